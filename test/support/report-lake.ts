import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eventToJsonLine } from '../../src/collectors/proxy-events/format.js';
import { defaultEvent } from '../../src/rules/rule-tests.js';
import { type AuditEvent, eventToJson, parseTimestampMicros } from '../../src/schema/index.js';
import { ingestInto, tempLake } from './lake.js';

/**
 * A lake for the report and export tests: the real pgAudit and proxy fixtures (one day each), plus
 * five generated days in the proxy events format with known content: a failed-login burst, exports,
 * large reads, grants, SET ROLE and privileged sessions. `events` is every event in its JSON form
 * (timestamps as ISO text, `source` and `event_date` included): the ground truth tests count from.
 */

type Row = Record<string, unknown>;

const DAY = 86_400_000_000;
const BASE = Date.UTC(2024, 4, 1) * 1000; // 2024-05-01T00:00:00Z

function generated(): AuditEvent[] {
  const events: AuditEvent[] = [];
  const add = (day: number, seconds: number, fields: Partial<AuditEvent>) => {
    const id = `rpt-${String(events.length).padStart(5, '0')}`;
    events.push({
      ...defaultEvent(id, BASE + day * DAY + seconds * 1_000_000),
      source: 'proxy',
      source_format: 'proxy',
      source_ref: `proxy:report-fixture/${id}`,
      database_name: 'appdb',
      client_port: 50000 + (events.length % 1000),
      ...fields,
    });
  };
  const users = ['alice', 'bob', 'postgres', 'carol'];
  for (let day = 0; day < 5; day++) {
    users.forEach((user, u) => {
      const session = `s${day}.${u}`;
      const base = { db_user: user, client_addr: `10.0.0.${u + 1}`, session_id: session, application_name: 'app' };
      add(day, 3600 * (8 + u), { ...base, event_class: 'CONNECT', command: 'CONNECT' });
      for (let i = 0; i < (day + 1) * (u + 1); i++) {
        add(day, 3600 * (8 + u) + 10 + i, {
          ...base,
          event_class: i % 3 === 0 ? 'WRITE' : 'READ',
          command: i % 3 === 0 ? 'INSERT' : 'SELECT',
          object_type: 'TABLE',
          object_name: 'public.orders',
          statement_text: i % 3 === 0 ? 'INSERT INTO orders VALUES ($1)' : 'SELECT * FROM orders WHERE id = $1',
          parameters: ['1'],
          row_count: i % 3 === 0 ? 1 : 20,
          duration_ms: 0.5,
        });
      }
      add(day, 3600 * (8 + u) + 3000, { ...base, event_class: 'DISCONNECT', command: 'DISCONNECT' });
    });
    // A few failed logins every day, and on day 2 a burst of 12 in one hour from one address.
    for (let i = 0; i < day + 1; i++)
      add(day, 3600 * 6 + i * 60, {
        event_class: 'AUTH_FAILURE',
        command: 'CONNECT',
        db_user: 'bob',
        client_addr: '10.0.0.2',
        success: false,
        error_code: '28P01',
        error_message: 'password authentication failed for user "bob"',
      });
    if (day === 2)
      for (let i = 0; i < 12; i++)
        add(day, 3600 * 22 + i * 200, {
          event_class: 'AUTH_FAILURE',
          command: 'CONNECT',
          db_user: 'mallory',
          client_addr: '203.0.113.7',
          success: false,
          error_code: i % 4 === 0 ? '28000' : '28P01',
          error_message: 'authentication failed',
        });
  }
  const admin = { db_user: 'postgres', client_addr: '10.0.0.3', session_id: 's1.2', application_name: 'app' };
  add(1, 3600 * 10 + 1, {
    ...admin,
    event_class: 'ROLE',
    command: 'GRANT',
    statement_text: 'GRANT pg_read_all_data TO carol',
    object_type: null,
  });
  add(1, 3600 * 10 + 2, { ...admin, event_class: 'ROLE', command: 'ALTER ROLE', statement_text: 'ALTER ROLE carol CREATEROLE' });
  add(3, 3600 * 11 + 5, {
    db_user: 'carol',
    client_addr: '10.0.0.4',
    session_id: 's3.3',
    event_class: 'MISC',
    command: 'SET',
    statement_text: 'SET ROLE postgres',
  });
  add(3, 3600 * 11 + 6, {
    db_user: 'carol',
    client_addr: '10.0.0.4',
    session_id: 's3.3',
    event_class: 'READ',
    command: 'COPY',
    statement_text: 'COPY public.customers TO STDOUT',
    object_name: 'public.customers',
    row_count: 0,
  });
  add(4, 3600 * 9 + 7, {
    db_user: 'alice',
    client_addr: '10.0.0.1',
    session_id: 's4.0',
    event_class: 'READ',
    command: 'SELECT',
    statement_text: 'SELECT * FROM public.customers',
    object_type: 'TABLE',
    object_name: 'public.customers',
    row_count: 250_000,
  });
  add(4, 3600 * 9 + 8, {
    db_user: 'alice',
    client_addr: '10.0.0.1',
    session_id: 's4.0',
    event_class: 'DDL',
    command: 'DROP TABLE',
    statement_text: 'DROP TABLE public.tmp',
    object_type: 'TABLE',
    object_name: 'public.tmp',
  });
  add(4, 3600 * 9 + 9, {
    db_user: 'alice',
    client_addr: '10.0.0.1',
    session_id: 's4.0',
    event_class: 'ERROR',
    command: 'SELECT',
    success: false,
    error_code: '42501',
    error_message: 'permission denied for table payroll',
  });
  return events;
}

/** A lake with the fixtures and the generated days; remove it with `cleanup`. */
export async function reportLake(): Promise<{ dir: string; events: Row[]; cleanup: () => Promise<void> }> {
  const lake = await tempLake();
  const extra = join(lake.dir, '..', `${lake.dir.split('/').pop()}-generated.jsonl`);
  const gen = generated();
  await writeFile(extra, gen.map(eventToJsonLine).join(''));
  await ingestInto(lake.dir, ['fixtures/pgaudit/pg15.csv', 'fixtures/proxy/sessions.jsonl']);
  await ingestInto(lake.dir, [extra], 'proxy');
  const fixtures: Row[] = [];
  for (const f of ['fixtures/pgaudit/pg15.csv.expected.json', 'fixtures/proxy/sessions.jsonl.expected.json']) {
    fixtures.push(...(JSON.parse(await readFile(f, 'utf8')) as { events: Row[] }).events);
  }
  const events = [...fixtures, ...gen.map((e) => eventToJson(e) as Row)];
  return {
    dir: lake.dir,
    events,
    cleanup: async () => {
      await lake.cleanup();
      await import('node:fs/promises').then((fs) => fs.rm(extra, { force: true }));
    },
  };
}

/** Microseconds since the epoch of an event's ISO `event_time`. */
export function eventMicros(e: Row): number {
  return parseTimestampMicros(String(e.event_time))!;
}
