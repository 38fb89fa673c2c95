import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliArgs as cli } from '../support/cli.js';
import { tempLake } from '../support/lake.js';

/** Runs the CLI as a user does, in a child process with its own environment. */
function auditlake(args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const r = spawnSync('node', ['bin/auditlake.js', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

// The first event of fixtures/pgaudit/pg15.csv is at 2026-11-22 00:55:46.689 UTC.
const FIRST = 'SELECT min(event_time) AS t FROM audit_events';

describe('--tz and progress', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeAll(async () => {
    lake = await tempLake();
    await cli(['ingest', 'fixtures/pgaudit/pg15.csv', '--out', lake.dir, '--rules', 'builtin']);
  });
  afterAll(() => lake.cleanup());

  it('query prints UTC by default, and another zone with --tz, daylight saving included', () => {
    const q = (sql: string, ...more: string[]) => auditlake(['query', '--lake', lake.dir, ...more, sql]).out;
    expect(q(FIRST, '--format', 'csv')).toBe('t\n2026-11-22 00:55:46.689+00\n');
    expect(q(FIRST, '--format', 'csv', '--tz', 'America/New_York')).toBe('t\n2026-11-21 19:55:46.689-05\n');
    expect(JSON.parse(q(FIRST, '--format', 'json', '--tz', 'Asia/Kolkata'))).toEqual([{ t: '2026-11-22 06:25:46.689+05:30' }]);
    expect(q(FIRST, '--tz', 'America/New_York')).toContain('2026-11-21 19:55:46.689-05\n');
    // Summer time in the same zone: -04.
    const summer = "SELECT TIMESTAMPTZ '2024-07-01 12:00:00+00' AS t";
    expect(q(summer, '--tz', 'America/New_York')).toContain('2024-07-01 08:00:00-04\n');
    expect(q(summer, '--format', 'csv', '--tz', 'America/New_York')).toBe('t\n2024-07-01 08:00:00-04\n');
    // local is the machine's zone (TZ), opted into: without --tz the machine's zone changes nothing.
    const local = auditlake(['query', '--lake', lake.dir, '--format', 'csv', '--tz', 'local', FIRST], { TZ: 'Europe/Berlin' });
    expect(local.out).toBe('t\n2026-11-22 01:55:46.689+01\n');
    expect(auditlake(['query', '--lake', lake.dir, '--format', 'csv', FIRST], { TZ: 'Europe/Berlin' }).out).toBe(
      't\n2026-11-22 00:55:46.689+00\n',
    );
  }, 240_000);

  it('sessions, hunt and report take --tz too; an unknown zone is a usage error', async () => {
    const sessions = JSON.parse((await cli(['sessions', '--lake', lake.dir, '--format', 'json', '--tz', 'Europe/Berlin'])).out);
    expect(sessions.at(-1).started).toBe('2026-11-22 01:55:46.689+01');
    const alerts = (await cli(['hunt', '--lake', lake.dir, '--format', 'jsonl', '--tz', 'America/New_York'])).out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    const utc = (await cli(['hunt', '--lake', lake.dir, '--format', 'jsonl'])).out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(utc[0].alert_time).toBe('2026-11-22T00:55:46.689000Z');
    expect(alerts[0].alert_time).toBe('2026-11-21T19:55:46.689000-05:00');
    expect(alerts[0].event_date).toBe(utc[0].event_date);
    expect(Date.parse(alerts[0].window_end)).toBe(Date.parse(utc[0].window_end));
    const report = JSON.parse((await cli(['report', 'failed-logins', '--lake', lake.dir, '--format', 'json', '--tz', 'Asia/Kolkata'])).out);
    const utcReport = JSON.parse((await cli(['report', 'failed-logins', '--lake', lake.dir, '--format', 'json'])).out);
    expect(utcReport[0].first_attempt).toBe('2026-11-22T00:55:47.052000Z');
    expect(report[0].first_attempt).toBe('2026-11-22T06:25:47.052000+05:30');
    for (const command of [['query', 'SELECT 1'], ['sessions'], ['hunt'], ['report', 'summary']]) {
      const r = await cli([command[0], '--lake', lake.dir, ...command.slice(1), '--tz', 'Mars/Olympus']);
      expect(r.code, command[0]).toBe(2);
      expect(r.err).toContain('--tz Mars/Olympus: expected an IANA time zone');
    }
  });

  it('report and verify show progress and a final line on a terminal only, never with --json', async () => {
    const report = await cli(['report', 'all', '--lake', lake.dir], true);
    expect(report.err).toMatch(/\rreport 1\/8 summary/);
    expect(report.err).toMatch(/\rreport 8\/8 privileged-sessions/);
    expect(report.err).toMatch(/report 8 reports: \d+ rows\n$/);
    // Table rows never land on the status line: it is erased before stdout is written.
    expect(report.out).not.toContain('\r');
    expect((await cli(['report', 'all', '--lake', lake.dir])).err).toBe('');
    expect((await cli(['report', 'summary', '--lake', lake.dir, '--format', 'json'], true)).err).toBe('');

    const verify = await cli(['verify', '--lake', lake.dir], true);
    expect(verify.code).toBe(0);
    expect(verify.err).toMatch(/\rverify: reading the digest chain/);
    expect(verify.out).toMatch(/verify: clean\n$/);
    const json = await cli(['verify', '--lake', lake.dir, '--json'], true);
    expect(json.err).toBe('');
    for (const line of json.out.trimEnd().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    expect((await cli(['verify', '--lake', lake.dir])).err).toBe('');
  });

  it('query as a table and sessions show progress on a terminal only, erased before the table', async () => {
    const query = await cli(['query', '--lake', lake.dir, 'SELECT count(*) AS n FROM audit_events'], true);
    expect(query.code).toBe(0);
    expect(query.err).toMatch(/^\rquerying/);
    expect(query.err).toMatch(/\r\x1b\[K$/);
    expect(query.out).not.toContain('\r');
    expect((await cli(['query', '--lake', lake.dir, 'SELECT 1 AS n'])).err).toBe('');

    const sessions = await cli(['sessions', '--lake', lake.dir], true);
    expect(sessions.code).toBe(0);
    expect(sessions.err).toMatch(/^\rlisting sessions/);
    expect(sessions.out).not.toContain('\r');
    expect((await cli(['sessions', '--lake', lake.dir])).err).toBe('');
    expect((await cli(['sessions', '--lake', lake.dir, '--format', 'json'], true)).err).toBe('');
  });
});
