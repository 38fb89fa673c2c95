import fc from 'fast-check';
import { defaultEvent } from '../../src/rules/rule-tests.js';
import type { AuditEvent } from '../../src/schema/index.js';

/**
 * Random audit events drawn from a vocabulary that the built-in rules react to (failed logins, role
 * changes, exports, sensitive tables, off-hours activity), packed into a short span so that
 * thresholds, sequences and suppression buckets fire, and with coarse times so that ties happen.
 */

const USERS = ['alice', 'bob', 'mallory', 'postgres', 'intern', 'payroll_app', null];
const ADDRS = ['10.0.0.1', '10.0.0.2', '203.0.113.7', null];
const TABLES = ['public.payroll', 'public.orders', 'hr.salaries', null];

type Template = Partial<AuditEvent>;
const TEMPLATES: Template[] = [
  { event_class: 'AUTH_FAILURE', success: false, error_code: '28P01' },
  { event_class: 'AUTH_FAILURE', success: false, error_code: '28P01' },
  { event_class: 'AUTH_FAILURE', success: false, error_code: '28P01' },
  { event_class: 'CONNECT', success: true },
  { event_class: 'CONNECT', success: false },
  { event_class: 'READ', command: 'SELECT', row_count: 10, statement_text: 'SELECT * FROM t WHERE id = 1' },
  { event_class: 'READ', command: 'SELECT', row_count: 500000, statement_text: 'SELECT * FROM t' },
  { event_class: 'READ', command: 'COPY', statement_text: 'COPY t TO STDOUT' },
  { event_class: 'WRITE', command: 'DELETE', statement_text: 'DELETE FROM t' },
  { event_class: 'WRITE', command: 'UPDATE', statement_text: 'update t set a = 1 where id = 2' },
  { event_class: 'DDL', command: 'DROP TABLE', statement_text: 'DROP TABLE t' },
  { event_class: 'ROLE', command: 'ALTER ROLE', statement_text: 'ALTER ROLE x SUPERUSER' },
  { event_class: 'ROLE', command: 'GRANT', statement_text: 'GRANT pg_read_all_data TO x' },
  { event_class: 'MISC', command: 'SET', statement_text: 'SET ROLE postgres' },
  { event_class: 'ERROR', success: false, error_code: '42501', error_message: 'permission denied' },
  { event_class: 'ERROR', success: false, error_code: '42501', error_message: 'permission denied' },
];

/** Start of generated spans: Monday 2024-05-06 05:30 UTC, so spans cross the 07:00 office-hours edge. */
const BASE = Date.UTC(2024, 4, 6, 5, 30) * 1000;

const rawEvent = fc.record({
  template: fc.constantFrom(...TEMPLATES),
  // Mostly one or two actors, so that per-group thresholds and sequences are reached.
  user: fc.oneof({ arbitrary: fc.constantFrom('alice', 'bob'), weight: 4 }, { arbitrary: fc.constantFrom(...USERS), weight: 1 }),
  addr: fc.oneof({ arbitrary: fc.constant('203.0.113.7'), weight: 4 }, { arbitrary: fc.constantFrom(...ADDRS), weight: 1 }),
  table: fc.constantFrom(...TABLES),
  slot: fc.nat(),
});

/** A list of events (ids unique, sorted by nothing) over a span between 10 minutes and 4 hours. */
export const eventsArbitrary = fc
  .record({
    spanMinutes: fc.integer({ min: 10, max: 240 }),
    stepSeconds: fc.constantFrom(1, 15, 60),
    raws: fc.array(rawEvent, { minLength: 1, maxLength: 400, size: 'max' }),
  })
  .map(({ spanMinutes, stepSeconds, raws }) => {
    const slots = Math.max(1, Math.floor((spanMinutes * 60) / stepSeconds));
    return raws.map((r, i): AuditEvent => {
      const time = BASE + (r.slot % slots) * stepSeconds * 1_000_000;
      return {
        ...defaultEvent(`gen-${String(i).padStart(6, '0')}`, time),
        ...r.template,
        db_user: r.user,
        client_addr: r.addr,
        object_name: r.table,
      } as AuditEvent;
    });
  });

/**
 * Delivers events as a stream would: each delayed by a random amount below `latenessMicros` (so
 * out of order, but never beyond the allowed lateness), cut into batches of random sizes.
 */
export function deliver(events: readonly AuditEvent[], latenessMicros: number, seed: number): AuditEvent[][] {
  let state = seed >>> 0 || 1;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const arrival = events.map((e) => ({ e, at: e.event_time + Math.floor(random() * latenessMicros) }));
  arrival.sort((a, b) => a.at - b.at);
  const batches: AuditEvent[][] = [];
  for (let i = 0; i < arrival.length; ) {
    const size = 1 + Math.floor(random() * 50);
    batches.push(arrival.slice(i, i + size).map((a) => a.e));
    i += size;
  }
  return batches;
}
