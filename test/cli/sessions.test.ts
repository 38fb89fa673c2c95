import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { tempLake } from '../support/lake.js';

async function json(...argv: string[]): Promise<Record<string, unknown>[]> {
  const r = await cli(...argv, '--format', 'json');
  expect(r.err).toBe('');
  return JSON.parse(r.out);
}

/** The session id of the workload session run with this application_name. */
async function sessionOf(lake: string, application: string): Promise<string> {
  const [row] = await json(
    'query',
    '--lake',
    lake,
    `SELECT DISTINCT session_id FROM audit_events WHERE application_name = '${application}'`,
  );
  return String(row.session_id);
}

describe('auditlake sessions', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    lake = await tempLake();
  });
  afterEach(() => lake.cleanup());

  it('counts each statement once, though pgAudit logs it as SESSION and OBJECT (and per relation)', async () => {
    expect((await cli('ingest', 'fixtures/pgaudit/pg15.csv', '--out', lake.dir)).code).toBe(0);
    const list = await json('sessions', '--lake', lake.dir);
    const count = (id: string) => list.find((s) => s.session_id === id)?.statements;
    // reporting (fixtures/pgaudit/pg15.workload.json) sent 15 statements; pgAudit wrote 22 AUDIT lines for
    // them: an OBJECT and a SESSION line for the read of sensitive_table, one line per relation of a view,
    // one per substatement of a function and a DO block.
    const reporting = await sessionOf(lake.dir, 'reporting');
    const [lines] = await json(
      'query',
      '--lake',
      lake.dir,
      `SELECT count(*) AS n FROM audit_events WHERE session_id = '${reporting}' AND audit_type IS NOT NULL`,
    );
    expect(lines.n).toBe('22');
    expect(count(reporting)).toBe('15');
    // schema-migration: 19 statements, 25 lines (an UPDATE of sensitive_table logged as OBJECT and SESSION).
    expect(count(await sessionOf(lake.dir, 'schema-migration'))).toBe('19');
    // billing-api: 14 statements sent, one a simple query holding three (pgAudit gives each its own id),
    // five of them failed before pgAudit logged them (their ERROR events count); statement 7 has two lines.
    const billing = await sessionOf(lake.dir, 'billing-api');
    expect(list.find((s) => s.session_id === billing)).toMatchObject({ statements: '16', failures: '5' });

    // The timeline shows statement 7 once, saying both audit types logged it.
    const timeline = await json('sessions', '--lake', lake.dir, billing);
    const sensitive = timeline.filter((e) => e.statement_text === 'SELECT ssn FROM sensitive_table WHERE id = $1');
    expect(sensitive).toHaveLength(1);
    expect(sensitive[0]).toMatchObject({ audit_type: 'SESSION+OBJECT', event_class: 'READ', row_count: '1' });
    expect(timeline.map((e) => e.event_class)).toEqual([
      'CONNECT',
      ...Array(3).fill('WRITE'),
      'READ',
      'READ',
      'WRITE',
      'READ',
      'WRITE',
      ...Array(5).fill('ERROR'),
      'READ',
      'WRITE',
      'READ',
      'DISCONNECT',
    ]);
  });

  it('finds the sessions of an RDS stderr log (no %c) by pid and connection start, as csvlog finds them', async () => {
    const csv = join(lake.dir, 'csv');
    const rds = join(lake.dir, 'rds');
    await cli('ingest', 'fixtures/pgaudit/pg15.csv', '--out', csv);
    await cli('ingest', 'fixtures/pgaudit/pg15-rds.log', '--out', rds);
    const fromCsv = await json('sessions', '--lake', csv);
    const fromRds = await json('sessions', '--lake', rds);
    expect(fromRds).toHaveLength(15);
    // The same server run: %c ends in the pid in hex, the derived key starts with it in decimal.
    const byPid = (rows: Record<string, unknown>[], pid: (id: string) => number) =>
      new Map(rows.map((r) => [pid(String(r.session_id)), [r.db_user, r.database_name, r.statements, r.failures, r.ended]]));
    const csvPid = (id: string) => Number.parseInt(id.split('.')[1], 16);
    const rdsPid = (id: string) => Number(id.split('@')[0]);
    expect(byPid(fromRds, rdsPid)).toEqual(byPid(fromCsv, csvPid));
    for (const s of fromRds) expect(s.session_id).toMatch(/^\d+@2026-11-22T00:55:4[67]Z$/);
    const billing = fromRds.find((s) => s.statements === '16');
    expect(billing?.session_id).toBe('8900@2026-11-22T00:55:46Z');
    // The key is the connection's start (connection received), not the first audited statement's time.
    const timeline = await json('sessions', '--lake', rds, '8900@2026-11-22T00:55:46Z');
    expect(timeline[0]).toMatchObject({ event_class: 'CONNECT', event_time: '2026-11-22 00:55:47+00' });
    expect(timeline.at(-1)).toMatchObject({ event_class: 'DISCONNECT' });
    expect(timeline).toHaveLength(1 + 16 + 1);
  });

  it('starts a new session when a pid is reused, and one at first sight without connection lines', async () => {
    const p = (time: string, pid: number, message: string, who = 'app@db') =>
      `2024-05-01 10:00:${time} UTC:10.0.0.1(5000):${who}:[${pid}]:LOG:  ${message}`;
    const log = [
      p('00', 41, 'connection received: host=10.0.0.1 port=5000', '[unknown]@[unknown]'),
      p('00', 41, 'connection authorized: user=app database=db'),
      p('01', 41, 'AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1,<none>'),
      // No disconnection line (log_disconnections off); the pid is reused by a new connection.
      p('05', 41, 'connection received: host=10.0.0.1 port=5001', '[unknown]@[unknown]'),
      p('05', 41, 'connection authorized: user=app database=db'),
      p('06', 41, 'AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 2,<none>'),
      p('07', 41, 'disconnection: session time: 0:00:02.000 user=app database=db host=10.0.0.1 port=5001'),
      // A backend whose connection is not in this log (log_connections off, or an earlier file).
      p('09', 77, 'AUDIT: SESSION,8,1,WRITE,INSERT,,,INSERT INTO t VALUES (1),<none>'),
      p('10', 77, 'AUDIT: SESSION,9,1,READ,SELECT,,,SELECT 3,<none>'),
      '',
    ].join('\n');
    const file = join(lake.dir, 'rds.log');
    await writeFile(file, log);
    await cli('ingest', file, '--out', join(lake.dir, 'lake'));
    const sessions = await json('sessions', '--lake', join(lake.dir, 'lake'));
    expect(sessions.map((s) => [s.session_id, s.statements, s.ended])).toEqual([
      ['77@2024-05-01T10:00:09Z', '2', false],
      ['41@2024-05-01T10:00:05Z', '1', true],
      ['41@2024-05-01T10:00:00Z', '1', false],
    ]);
  });
});
