import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { ingestInto, tempLake } from '../../test/support/lake.js';
import { complianceReports, withPeriod } from '../lib/compliance-queries.js';

/**
 * The saved Athena reports run unchanged (but for the period) in `auditlake query` over a lake made
 * from the pgAudit fixture, and return what the fixture's expected events say they should.
 */

type Row = Record<string, unknown>;
const expected = JSON.parse(await readFile('fixtures/pgaudit/pg15.csv.expected.json', 'utf8')) as { events: Row[] };
const lake = await tempLake();

async function query(sql: string): Promise<Row[]> {
  let out = '';
  let err = '';
  const code = await runCli(['query', '--lake', lake.dir, '--format', 'json', sql], {
    out: (t) => (out += t),
    err: (t) => (err += t),
    tty: false,
  });
  expect(code, err).toBe(0);
  return JSON.parse(out);
}

const reports = Object.fromEntries(
  complianceReports(['postgres', 'admin_user']).map((r) => [r.name, withPeriod(r.sql, '2000-01-01', '2999-12-31')]),
);
const count = (f: (e: Row) => boolean) => expected.events.filter(f).length;

describe('compliance reports', () => {
  beforeAll(async () => {
    await ingestInto(lake.dir, ['fixtures/pgaudit/pg15.csv']);
  });
  afterAll(() => lake.cleanup());

  it('count failed logins by month, user and client', async () => {
    const rows = await query(reports['auditlake-failed-logins-by-month']);
    expect(rows.reduce((n, r) => n + Number(r.failures), 0)).toBe(count((e) => e.event_class === 'AUTH_FAILURE'));
    expect(rows.length).toBeGreaterThan(0);
  });

  it('list every privilege change, export and DDL change', async () => {
    expect(await query(reports['auditlake-privilege-changes'])).toHaveLength(count((e) => e.event_class === 'ROLE'));
    expect(await query(reports['auditlake-ddl-changes'])).toHaveLength(count((e) => e.event_class === 'DDL'));
    const exports = count((e) => e.command === 'COPY' || (e.event_class === 'READ' && Number(e.row_count) >= 10000));
    expect(await query(reports['auditlake-exports-and-bulk-reads'])).toHaveLength(exports);
  });

  it('summarize the sessions of privileged users', async () => {
    const rows = await query(reports['auditlake-privileged-user-sessions']);
    expect(rows.reduce((n, r) => n + Number(r.events), 0)).toBe(count((e) => e.db_user === 'postgres' || e.db_user === 'admin_user'));
  });

  it('take the period as a parameter, and only days', () => {
    for (const r of complianceReports([])) expect(r.sql).toContain('event_date BETWEEN ? AND ?');
    expect(() => withPeriod('x', '2024-5-1', '2024-05-31')).toThrow(/YYYY-MM-DD/);
  });
});
