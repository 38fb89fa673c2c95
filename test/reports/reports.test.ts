import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsStorage } from '../../src/lake/fs-storage.js';
import { DEFAULT_REPORT_SETTINGS, REPORTS } from '../../src/reports/definitions.js';
import { openLakeSession, type PlainRow, streamRows } from '../../src/reports/lake-session.js';
import { periodParams } from '../../src/reports/run.js';
import { cliArgs as cli } from '../support/cli.js';
import { reportLake } from '../support/report-lake.js';

/**
 * Every report over a lake of real fixtures plus generated days, checked against counts taken from
 * the events themselves (not from SQL); the Athena form of each report gives the same rows as the
 * DuckDB form; output formats and errors behave.
 */

type Row = Record<string, unknown>;
let lake: Awaited<ReturnType<typeof reportLake>>;

async function report(name: string, ...args: string[]): Promise<Row[]> {
  const r = await cli(['report', name, '--lake', lake.dir, '--format', 'json', ...args]);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out);
}

const inPeriod = (e: Row, since = '0000', until = '9999') => String(e.event_date) >= since && String(e.event_date) <= until;
const key = (...parts: unknown[]) => parts.map((p) => (p === null || p === undefined ? '∅' : String(p))).join('|');
/** pgAudit's lines of one statement (SESSION and OBJECT, one per relation) share this key; substatements keep their own. */
const statementLine = (e: Row) =>
  e.audit_type !== null && e.statement_id !== null && e.session_id !== null
    ? key(e.session_id, e.statement_id, e.substatement_id ?? 0)
    : String(e.event_id);
/** As the reports count statements: substatements belong to their statement. */
const statementOf = (e: Row) =>
  e.audit_type !== null && e.statement_id !== null && e.session_id !== null ? key(e.session_id, e.statement_id) : String(e.event_id);
const distinct = (rows: Row[], f: (e: Row) => string) => new Set(rows.map(f)).size;
function countBy(rows: Row[], f: (e: Row) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of rows) m.set(f(r), (m.get(f(r)) ?? 0) + 1);
  return m;
}

beforeAll(async () => {
  lake = await reportLake();
}, 120_000);
afterAll(() => lake.cleanup());

describe('auditlake report', () => {
  it('summary counts events, users and clients per day and class', async () => {
    const rows = await report('summary');
    const expected = countBy(lake.events, (e) => key(e.event_date, e.event_class));
    expect(new Map(rows.map((r) => [key(r.event_date, r.event_class), r.events]))).toEqual(expected);
    for (const r of rows) {
      const group = lake.events.filter((e) => e.event_date === r.event_date && e.event_class === r.event_class);
      expect(r.distinct_users).toBe(new Set(group.map((e) => e.db_user).filter((u) => u !== null)).size);
      expect(r.distinct_clients).toBe(new Set(group.map((e) => e.client_addr).filter((u) => u !== null)).size);
    }
  });

  it('summary keeps to the period', async () => {
    const rows = await report('summary', '--since', '2024-05-02', '--until', '2024-05-03');
    expect(new Set(rows.map((r) => r.event_date))).toEqual(new Set(['2024-05-02', '2024-05-03']));
    const total = rows.reduce((n, r) => n + Number(r.events), 0);
    expect(total).toBe(lake.events.filter((e) => inPeriod(e, '2024-05-02', '2024-05-03')).length);
  });

  it('failed-logins counts attempts per user and client with their SQLSTATEs', async () => {
    const rows = await report('failed-logins');
    const failures = lake.events.filter((e) => e.event_class === 'AUTH_FAILURE');
    expect(new Map(rows.map((r) => [key(r.db_user, r.client_addr), r.attempts]))).toEqual(
      countBy(failures, (e) => key(e.db_user, e.client_addr)),
    );
    const mallory = rows.find((r) => r.db_user === 'mallory')!;
    expect(mallory).toMatchObject({ attempts: 12, sqlstates: '28000, 28P01', first_attempt: '2024-05-03T22:00:00.000000Z' });
    for (const r of rows) expect(Object.keys(r).every((k) => /^[a-z][a-z0-9_]*$/.test(k))).toBe(true);
  });

  it('failed-login-bursts finds the hours with more failures than the threshold', async () => {
    expect(await report('failed-login-bursts')).toEqual([
      {
        hour_start: '2024-05-03T22:00:00.000000Z',
        db_user: 'mallory',
        client_addr: '203.0.113.7',
        attempts: 12,
        first_attempt: '2024-05-03T22:00:00.000000Z',
        last_attempt: '2024-05-03T22:36:40.000000Z',
      },
    ]);
    // bob fails day+1 times a day at 06:xx: with a threshold of 3, days 4 and 5 are bursts.
    const low = await report('failed-login-bursts', '--burst-threshold', '3');
    expect(low.filter((r) => r.db_user === 'bob').map((r) => [r.hour_start, r.attempts])).toEqual([
      ['2024-05-04T06:00:00.000000Z', 4],
      ['2024-05-05T06:00:00.000000Z', 5],
    ]);
  });

  it('user-activity counts reads, writes, DDL and role changes and failures per user', async () => {
    const rows = await report('user-activity');
    for (const r of rows) {
      const mine = lake.events.filter((e) => e.db_user === r.db_user);
      // Audit lines once each; statements once however many lines pgAudit wrote for them.
      expect(r).toMatchObject({
        events: mine.length,
        statements: distinct(
          mine.filter((e) => !['CONNECT', 'DISCONNECT', 'AUTH_FAILURE'].includes(String(e.event_class))),
          statementOf,
        ),
        reads: distinct(
          mine.filter((e) => e.event_class === 'READ'),
          statementOf,
        ),
        writes: distinct(
          mine.filter((e) => e.event_class === 'WRITE'),
          statementOf,
        ),
        ddl_role_changes: distinct(
          mine.filter((e) => e.event_class === 'DDL' || e.event_class === 'ROLE'),
          statementOf,
        ),
        failures: distinct(
          mine.filter((e) => e.success === false),
          statementOf,
        ),
        sources: [...new Set(mine.map((e) => e.source))].sort().join(', '),
      });
    }
    expect(rows.reduce((n, r) => n + Number(r.events), 0)).toBe(lake.events.length);
  });

  it('privilege-changes lists every role change and SET ROLE', async () => {
    const rows = await report('privilege-changes');
    const expected = lake.events.filter(
      (e) =>
        e.event_class === 'ROLE' || /^(SET (SESSION )?ROLE|SET SESSION AUTHORIZATION|RESET ROLE)/i.test(String(e.statement_text ?? '')),
    );
    expect(rows).toHaveLength(distinct(expected, statementLine));
    expect(rows.map((r) => r.statement_text)).toContain('SET ROLE postgres');
    expect(rows.find((r) => r.statement_text === 'GRANT pg_read_all_data TO carol')).toMatchObject({
      db_user: 'postgres',
      command: 'GRANT',
    });
  });

  it('data-exports lists COPY TO and large reads', async () => {
    const rows = await report('data-exports');
    const expected = lake.events.filter((e) => e.event_class === 'READ' && (e.command === 'COPY' || Number(e.row_count) >= 10_000));
    expect(rows).toHaveLength(distinct(expected, statementLine));
    expect(rows.find((r) => r.kind === 'large read')).toMatchObject({
      db_user: 'alice',
      object_name: 'public.customers',
      row_count: 250_000,
    });
    expect(await report('data-exports', '--large-read-rows', '20')).toHaveLength(
      distinct(
        lake.events.filter((e) => e.event_class === 'READ' && (e.command === 'COPY' || Number(e.row_count) >= 20)),
        statementLine,
      ),
    );
  });

  it('schema-changes lists DDL', async () => {
    const ddl = lake.events.filter((e) => e.event_class === 'DDL');
    const rows = await report('schema-changes');
    expect(rows).toHaveLength(distinct(ddl, statementLine));
    // Each statement once, with every object pgAudit named for it (its SESSION, OBJECT and per-relation lines).
    for (const r of rows) {
      const lines = ddl.filter((e) => e.session_id === r.session_id && e.statement_text === r.statement_text);
      const objects = [...new Set(lines.map((e) => e.object_name).filter((o) => o !== null))].sort();
      if (lines.length > 0 && new Set(lines.map(statementLine)).size === 1)
        expect(r.object_name).toBe(objects.length > 0 ? objects.join(', ') : null);
    }
  });

  it('privileged-sessions lists the sessions of the configured users', async () => {
    const rows = await report('privileged-sessions', '--privileged-user', 'postgres,admin_user');
    const mine = lake.events.filter((e) => e.db_user === 'postgres' || e.db_user === 'admin_user');
    // Each statement once: pgAudit's SESSION, OBJECT, per-relation and substatement lines of one statement
    // share its statement id; every other event is a statement of its own.
    const statements = new Map<string, Set<string>>();
    for (const e of mine) {
      const k = key(e.source, e.session_id);
      const set = statements.get(k) ?? new Set<string>();
      statements.set(k, set);
      if (['CONNECT', 'DISCONNECT', 'AUTH_FAILURE'].includes(String(e.event_class))) continue;
      set.add(e.audit_type !== null && e.statement_id !== null ? `statement ${e.statement_id}` : String(e.event_id));
    }
    const expected = new Map([...statements].map(([k, set]) => [k, set.size]));
    expect(new Map(rows.map((r) => [key(r.source, r.session_id), r.statements]))).toEqual(expected);
    // The reporting session of the workload sent 15 statements; pgAudit wrote 22 lines for them.
    expect(rows.filter((r) => r.statements === 15 && r.db_user === 'admin_user')).toHaveLength(1);
    expect(rows.every((r) => r.db_user === 'postgres' || r.db_user === 'admin_user')).toBe(true);
  });

  it('gives the same rows from the Athena form of every report (Trino-only array_join shimmed)', async () => {
    const session = await openLakeSession(new FsStorage(lake.dir));
    const connection = session.connection;
    try {
      // Trino's array_join(array, sep) leaves out nulls; so does DuckDB's array_to_string.
      await connection.run('CREATE MACRO array_join(l, sep) AS array_to_string(l, sep)');
      const all = async (sql: string) => {
        const rows: PlainRow[] = [];
        for await (const b of (await streamRows(connection, sql, periodParams({}))).batches) rows.push(...b);
        return rows;
      };
      for (const r of REPORTS) {
        const settings = { ...DEFAULT_REPORT_SETTINGS, privilegedUsers: ['postgres', 'admin_user'] };
        const duck = await all(r.sql('duckdb', settings));
        expect(duck.length, r.name).toBeGreaterThan(0);
        expect(await all(r.sql('athena', settings)), r.name).toEqual(duck);
      }
    } finally {
      await session.close();
    }
    expect(existsSync(session.tempDirectory)).toBe(false);
  });

  it('writes CSV and a table, to stdout or a file', async () => {
    const csv = await cli(['report', 'failed-logins', '--lake', lake.dir, '--format', 'csv']);
    const lines = csv.out.trimEnd().split('\n');
    expect(lines[0]).toBe('db_user,client_addr,attempts,first_attempt,last_attempt,sqlstates');
    expect(lines[1]).toMatch(/^bob,10\.0\.0\.2,15,/);
    const table = await cli(['report', 'summary', '--lake', lake.dir]);
    expect(table.out).toMatch(/^event_date +\| event_class/);
    expect(table.out).toMatch(/\(\d+ rows\)\n$/);
  });

  it('says what is wrong with a bad name, period or lake', async () => {
    expect((await cli(['report', 'nope', '--lake', lake.dir])).code).toBe(2);
    expect((await cli(['report', 'summary', '--lake', lake.dir, '--since', '2024-02-30'])).err).toMatch(
      /--since 2024-02-30: expected a day/,
    );
    expect((await cli(['report', 'summary', '--lake', lake.dir, '--since', '2024-05-03', '--until', '2024-05-01'])).code).toBe(2);
    const missing = await cli(['report', 'summary', '--lake', `${lake.dir}/nope`]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(`${lake.dir}/nope: no such folder`);
    const notLake = await cli(['report', 'summary', '--lake', 'src']);
    expect(notLake.code).toBe(1);
    expect(notLake.err).toContain('not a lake');
  });
});
