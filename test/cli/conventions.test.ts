import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDuckDb } from '../../src/lake/duckdb.js';
import { sqlString } from '../../src/lake/parquet-convert.js';
import { athenaAlertsDdl } from '../../src/rules/alert-schema.js';
import { athenaEventsDdl, DUCKDB_TYPES, EVENT_FIELDS } from '../../src/schema/index.js';
import { cliArgs as cli } from '../support/cli.js';
import { tempLake } from '../support/lake.js';

/** Runs the CLI as a user does, in a shell; returns its exit status, not the pipeline's. */
function shell(command: string, env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const r = spawnSync('bash', ['-c', `${command}; exit \${PIPESTATUS[0]}`], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Writes a lake of `rows` synthetic events straight to Parquet (every declared column; one partition). */
async function syntheticLake(dir: string, rows: number): Promise<void> {
  const partition = join(dir, 'events/source=proxy/event_date=2024-05-01');
  await mkdir(partition, { recursive: true });
  const fill: Record<string, string> = {
    event_id: "'e' || i",
    schema_version: '1',
    event_time: "TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_microseconds(i)",
    statement_text: "'SELECT * FROM accounts WHERE id = ' || i",
    event_class: "'READ'",
    db_user: "'user' || (i % 50)",
  };
  const cols = EVENT_FIELDS.map((f) => `CAST(${fill[f.name] ?? 'NULL'} AS ${DUCKDB_TYPES[f.type]}) AS "${f.name}"`);
  const connection = await openDuckDb();
  try {
    const file = join(partition, `part-${'0'.repeat(20)}-0.parquet`);
    await connection.run(`COPY (SELECT ${cols.join(', ')} FROM range(${rows}) t(i)) TO ${sqlString(file)} (FORMAT parquet)`);
  } finally {
    connection.closeSync();
  }
}

describe('CLI conventions', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    lake = await tempLake();
  });
  afterEach(() => lake.cleanup());

  it('prints its version with --version and -V', async () => {
    const { version } = JSON.parse(await readFile('package.json', 'utf8'));
    for (const flag of ['--version', '-V']) {
      const r = await cli([flag]);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^auditlake ${version.replaceAll('.', '\\.')} \\(node \\d+\\.\\d+\\.\\d+, duckdb v\\d`));
    }
  });

  it('ends quietly (exit 0, no stack) when its output is piped into head -1', async () => {
    await syntheticLake(lake.dir, 200_000);
    for (const [i, args] of [
      `query --lake ${lake.dir} --format csv "SELECT * FROM audit_events"`,
      `query --lake ${lake.dir} --format json "SELECT * FROM audit_events"`,
      `hunt --lake ${lake.dir} --format jsonl`,
      'rules test --help',
      'rules sql',
    ].entries()) {
      // A temp dir of its own: the spill folder and the FIFO's folder must be gone though the process ended early.
      const temp = join(lake.dir, `tmp-${i}`);
      await mkdir(temp);
      const r = shell(`node bin/auditlake.js ${args} | head -1`, { TMPDIR: temp });
      expect(r.err, args).not.toMatch(/EPIPE|Error|at /);
      expect(r.code, args).toBe(0);
      expect(
        (await readdir(temp)).filter((f) => !f.startsWith('tsx-')),
        args,
      ).toEqual([]);
    }
  }, 120_000);

  it('refuses a path that holds no lake, naming it (exit 1); an empty lake is fine', async () => {
    const missing = join(lake.dir, 'typo');
    for (const command of [['query', 'SELECT 1'], ['sessions'], ['hunt'], ['compact']]) {
      const r = await cli([command[0], '--lake', missing, ...command.slice(1)]);
      expect(r.code, command[0]).toBe(1);
      expect(r.err, command[0]).toContain(`--lake ${missing}: no such folder`);
    }
    await writeFile(join(lake.dir, 'notes.txt'), 'not a lake');
    const notLake = await cli(['query', '--lake', lake.dir, 'SELECT 1']);
    expect(notLake.code).toBe(1);
    expect(notLake.err).toContain(`--lake ${lake.dir}: not a lake`);
    await mkdir(join(lake.dir, '_state'));
    expect((await cli(['query', '--lake', lake.dir, '--format', 'csv', 'SELECT count(*) AS n FROM audit_events'])).out).toBe('n\n0\n');
    expect((await cli(['sessions', '--lake', lake.dir])).code).toBe(0);
  });

  it('streams a CSV and a JSON export of a million rows in under 500 MB', async () => {
    await syntheticLake(lake.dir, 1_000_000);
    for (const format of ['csv', 'json']) {
      const r = shell(
        `node --import ./test/support/peak-rss.mjs bin/auditlake.js query --lake ${lake.dir} --format ${format} "SELECT * FROM audit_events" | wc -l`,
      );
      expect(r.code).toBe(0);
      expect(Number(r.out.trim())).toBe(format === 'csv' ? 1_000_001 : 1_000_002);
      const peakMb = Number(/peak_rss_kb=(\d+)/.exec(r.err)?.[1]) / 1024;
      console.log(`query --format ${format}, 1,000,000 rows: peak RSS ${peakMb.toFixed(0)} MB`);
      expect(peakMb).toBeLessThan(500);
    }
  }, 300_000);

  it('writes --out files with DuckDB COPY (parquet, csv, json) and counts the rows', async () => {
    await syntheticLake(lake.dir, 5000);
    for (const ext of ['parquet', 'csv', 'json']) {
      const file = join(lake.dir, `export.${ext}`);
      const r = await cli(['query', '--lake', lake.dir, '--out', file, "SELECT * FROM audit_events WHERE db_user = 'user7';"]);
      expect(r.code, ext).toBe(0);
      expect(r.out).toBe('');
      expect(r.err).toBe(`100 rows written to ${file} (${ext})\n`);
      // Reading a file outside the lake back needs --allow-external-access: query is locked to the lake.
      const back = await cli([
        'query',
        '--lake',
        lake.dir,
        '--allow-external-access',
        '--format',
        'csv',
        `SELECT count(*) AS n FROM '${file}'`,
      ]);
      expect(back.out, ext).toBe('n\n100\n');
    }
    const bad = await cli(['query', '--lake', lake.dir, '--out', join(lake.dir, 'x.txt'), 'SELECT 1']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--format parquet|csv|json');
  });

  it('caps a table and says how many rows there were', async () => {
    await syntheticLake(lake.dir, 2500);
    const r = await cli(['query', '--lake', lake.dir, '--max-rows', '10', 'SELECT event_id FROM audit_events']);
    expect(r.out.trimEnd().split('\n')).toHaveLength(13);
    expect(r.out).toContain('(2,500 rows, first 10 shown');
  });

  it('prints timestamps in UTC whatever the machine zone', async () => {
    await syntheticLake(lake.dir, 1);
    const r = shell(`node bin/auditlake.js query --lake ${lake.dir} --format csv "SELECT event_time FROM audit_events"`, {
      TZ: 'America/New_York',
    });
    expect(r.out).toBe('event_time\n2024-05-01 00:00:00+00\n');
  });

  it('shows progress and a final line on a terminal only, never with --json', async () => {
    await cli(['ingest', 'fixtures/pgaudit/pg15.csv', '--out', lake.dir]);
    const onTty = await cli(['hunt', '--lake', lake.dir], true);
    expect(onTty.err).toMatch(/\rrule 1\/\d+ /);
    expect(onTty.err).toMatch(/\d+ alert\(s\) from \d+ rule\(s\)\n$/);
    const jsonl = await cli(['hunt', '--lake', lake.dir, '--format', 'jsonl'], true);
    expect(jsonl.err).toBe('');
    const piped = await cli(['compact', '--lake', lake.dir, '--json'], true);
    expect(piped.err).toBe('');
    expect(() => JSON.parse(piped.out)).not.toThrow();
  });

  it('keeps stdout pure JSON lines with --alerts-jsonl - (summary on stderr)', () => {
    const r = shell(`node bin/auditlake.js ingest fixtures/pgaudit/pg15.csv --out ${lake.dir} --rules rules --alerts-jsonl - --json`);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty('alert_id');
    expect(JSON.parse(r.err)).toMatchObject({ events: 111, alerts: lines.length });
  });

  it('fails a bad --rules before creating the lake folder', async () => {
    const out = join(lake.dir, 'new-lake');
    const r = await cli(['ingest', 'fixtures/pgaudit/pg15.csv', '--out', out, '--rules', '/nonexistent']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('/nonexistent');
    expect(existsSync(out)).toBe(false);
    await expect(stat(out)).rejects.toThrow();
  });

  it('exits 2 for a bad --since in rules sql and hunt', async () => {
    for (const argv of [
      ['rules', 'sql', '--since', 'x'],
      ['hunt', '--lake', lake.dir, '--since', 'x'],
    ]) {
      const r = await cli(argv);
      expect(r.code, argv[0]).toBe(2);
      expect(r.err).toContain('--since x: expected an ISO-8601 time');
    }
    // report and export take days, and refuse a period that runs backwards.
    for (const argv of [
      ['report', 'summary', '--lake', lake.dir],
      ['export', 'ocsf', '--lake', lake.dir, '--out', '-', '--format', 'jsonl'],
    ]) {
      const bad = await cli([...argv, '--since', '2024-02-30']);
      expect(bad.code, argv[0]).toBe(2);
      expect(bad.err).toContain('--since 2024-02-30: expected a day, YYYY-MM-DD (or today, yesterday)');
      const backwards = await cli([...argv, '--since', '2024-05-02', '--until', '2024-05-01']);
      expect(backwards.code, argv[0]).toBe(2);
      expect(backwards.err).toContain('--since 2024-05-02 is after --until 2024-05-01');
    }
  });

  it('exits 2 for a compact --date that is no calendar date', async () => {
    await mkdir(join(lake.dir, 'events'));
    for (const date of ['2024-13-45', '2023-02-29', '24-01-01']) {
      const r = await cli(['compact', '--lake', lake.dir, '--date', date]);
      expect(r.code, date).toBe(2);
      expect(r.err).toContain(`--date ${date}: expected a calendar date`);
    }
    expect((await cli(['compact', '--lake', lake.dir, '--date', '2024-02-29'])).code).toBe(0);
  });

  it('counts and reports events Athena partition projection cannot see', async () => {
    const future = join(lake.dir, 'future.csv');
    await writeFile(future, (await readFile('fixtures/pgaudit/pg15.csv', 'utf8')).replaceAll('2026-11-22', '2099-01-01'));
    const r = await cli([
      'ingest',
      'fixtures/pgaudit/pg15.csv',
      future,
      '--out',
      join(lake.dir, 'lake'),
      '--projection-start',
      '2026-11-23',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out);
    expect(summary.events).toBe(222);
    expect(summary.outside_projection).toEqual({
      start: '2026-11-23',
      before_start: 111,
      future: 111,
      first_date: '2026-11-22',
      last_date: '2099-01-01',
    });
    const human = await cli(['ingest', 'fixtures/pgaudit/pg15.csv', '--out', join(lake.dir, 'lake'), '--projection-start', '2026-11-23']);
    expect(human.out).toContain(
      'WARNING not visible in Athena (partition projection covers 2026-11-23 to today): 111 dated before 2026-11-23',
    );
    expect(human.out).toContain('--projection-start 2026-11-22');
    const inRange = JSON.parse((await cli(['ingest', 'fixtures/pgaudit/pg15.csv', '--out', join(lake.dir, 'lake'), '--json'])).out);
    expect(inRange.outside_projection).toBeUndefined();
    expect((await cli(['ingest', 'x.csv', '--out', lake.dir, '--projection-start', '2024-02-30'])).code).toBe(2);
  });

  it('validates schema --location and --projection-start, and says Athena reads milliseconds', async () => {
    for (const kind of ['athena', 'glue']) {
      const local = await cli(['schema', kind, '--location', '/local/path']);
      expect(local.code).toBe(2);
      expect(local.err).toContain('--location /local/path: expected s3://bucket/prefix');
      expect((await cli(['schema', kind, '--projection-start', '2019-13-01'])).code).toBe(2);
    }
    const ddl = (await cli(['schema', 'athena', '--location', 's3://bucket/lake', '--projection-start', '2018-06-01'])).out;
    expect(ddl).toContain("'projection.event_date.range' = '2018-06-01,NOW'");
    expect(ddl).toMatch(
      /`event_time` +timestamp COMMENT '.*Athena reads it at millisecond precision; the Parquet files hold microseconds\.'/,
    );
    const glue = JSON.parse((await cli(['schema', 'glue', '--table', 'audit_alerts', '--projection-start', '2018-06-01'])).out);
    expect(glue.Parameters['projection.event_date.range']).toBe('2018-06-01,NOW');
    // Quotes in a location reach the DDL doubled, never closing the literal.
    expect(athenaEventsDdl({ location: "s3://b/it's" })).toContain("LOCATION 's3://b/it''s/events/'");
    expect(athenaAlertsDdl({ location: "s3://b/it's" })).toContain(
      `'storage.location.template' = 's3://b/it''s/alerts/event_date=\${event_date}/'`,
    );
  });
});
