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

/** One batch of one input stream. */
export interface Delivery {
  stream: string;
  events: AuditEvent[];
}

/**
 * Delivers events as several inputs would, with every way event time goes backwards: the events are
 * split over 2-4 streams (instances), each with its clock skewed by up to ±20 minutes (the event times
 * returned are the skewed ones, which is what the lake holds); some streams are live and interleaved
 * (jittered within the lateness), others are files read after them (backfills, older than what was
 * read before); a few events of each stream straggle in at its end, later than the lateness; and one
 * stream may be shipped again (the same events, same ids). `ends` maps a stream to its last delivery.
 */
export function deliverStreams(
  events: readonly AuditEvent[],
  latenessMicros: number,
  seed: number,
): { deliveries: Delivery[]; ends: Map<string, Delivery>; events: AuditEvent[] } {
  let state = seed >>> 0 || 1;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const count = 2 + Math.floor(random() * 3);
  const skews = Array.from({ length: count }, () => Math.round((random() * 2 - 1) * 20) * 60_000_000);
  const split: AuditEvent[][] = Array.from({ length: count }, () => []);
  for (const e of events) split[Math.floor(random() * count)].push(e);
  const shifted = split.map((list, s) => list.map((e) => ({ ...e, event_time: e.event_time + skews[s] })));
  const perStream = shifted.map((list, s) => {
    const stragglers = list.filter(() => random() < 0.05);
    const onTime = list.filter((e) => !stragglers.includes(e));
    const batches = deliver(onTime, latenessMicros, seed + s);
    if (stragglers.length) batches.push(stragglers);
    return batches.map((b): Delivery => ({ stream: `instance-${s}`, events: b }));
  });
  const live = perStream.filter(() => random() < 0.6);
  const files = perStream.filter((p) => !live.includes(p));
  const deliveries: Delivery[] = [];
  // Live streams interleave batch by batch, in random turns.
  const cursors = live.map(() => 0);
  for (let left = live.reduce((n, p) => n + p.length, 0); left > 0; left--) {
    const open = live.map((_, i) => i).filter((i) => cursors[i] < live[i].length);
    const i = open[Math.floor(random() * open.length)];
    deliveries.push(live[i][cursors[i]++]);
  }
  for (const file of files) deliveries.push(...file);
  if (random() < 0.4 && perStream.length) {
    const again = perStream[Math.floor(random() * perStream.length)];
    deliveries.push(...again.map((d) => ({ stream: `${d.stream}-reshipped`, events: d.events })));
  }
  const ends = new Map<string, Delivery>();
  for (const d of deliveries) ends.set(d.stream, d);
  return { deliveries, ends, events: shifted.flat() };
}
