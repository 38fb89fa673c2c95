import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { ingestInto, tempLake } from '../support/lake.js';
import { type PgServer, startPgServer } from '../support/postgres.js';

/**
 * A real PostgreSQL 15 with pgAudit runs a known workload; its own logs, ingested, must hold exactly
 * that workload: asked through `auditlake query`, as a user would.
 */

/** Runs `sql` over the per-format lakes under `lake` and concatenates the rows. */
async function query(lake: string, sql: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const i of [0, 1, 2]) rows.push(...(await queryOne(`${lake}/${i}`, sql)));
  return rows;
}

async function queryOne(lake: string, sql: string): Promise<Record<string, unknown>[]> {
  let out = '';
  const code = await runCli(['query', '--lake', lake, '--format', 'json', sql], {
    out: (t) => (out += t),
    err: (t) => process.stderr.write(t),
    tty: false,
  });
  expect(code).toBe(0);
  return JSON.parse(out);
}

describe('a live PostgreSQL server, ingested', () => {
  let server: PgServer;
  let lake: Awaited<ReturnType<typeof tempLake>>;

  beforeAll(async () => {
    server = await startPgServer();
    lake = await tempLake();
    await server.psql(`
      CREATE ROLE alice LOGIN PASSWORD 'alice-pw';
      CREATE ROLE bob LOGIN PASSWORD 'bob-pw';
      CREATE TABLE public.items (id int PRIMARY KEY, name text);
      GRANT SELECT, INSERT ON public.items TO alice;
      GRANT SELECT ON public.items TO auditor;
    `);
    const alice = new pg.Client({
      connectionString: server.connectionString('alice', 'postgres', 'alice-pw'),
      application_name: 'live-test',
    });
    await alice.connect();
    for (const [id, name] of [
      [1, 'a,b'],
      [2, 'quote"d'],
      [3, null],
    ] as const)
      await alice.query('INSERT INTO public.items VALUES ($1, $2)', [id, name]);
    const read = await alice.query('SELECT * FROM public.items WHERE id = $1', [2]);
    expect(read.rows).toEqual([{ id: 2, name: 'quote"d' }]);
    await alice.end();
    const denied = await server.psql('SELECT count(*) FROM public.items;', { user: 'bob', password: 'bob-pw' });
    expect(denied.stderr).toContain('permission denied');
    for (let i = 0; i < 3; i++) {
      const wrong = new pg.Client({ connectionString: server.connectionString('alice', 'postgres', 'wrong') });
      await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
    }
    await server.flushLogs();
    const logs = await server.logFiles();
    // One lake per format: in one lake the csvlog's and jsonlog's records (same session lines) are stored once.
    const formats: string[] = [];
    for (const [i, path] of [logs.csvlog, logs.jsonlog, logs.stderr].entries()) {
      if (!path) continue;
      const summary = await ingestInto(`${lake.dir}/${i}`, [path]);
      formats.push(...summary.inputs.map((x) => x.format as string));
      expect(summary.quarantined).toBe(0);
    }
    expect(formats.sort()).toEqual(['csvlog', 'jsonlog', 'stderr']);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await lake?.cleanup();
  });

  it('holds exactly what alice and bob did, by class and command, in every log format', async () => {
    const rows = await query(
      lake.dir,
      `SELECT source_format, db_user, event_class, command, audit_type, count(*) AS n FROM audit_events
       WHERE db_user IN ('alice', 'bob') GROUP BY ALL ORDER BY ALL`,
    );
    for (const format of ['csvlog', 'jsonlog', 'stderr']) {
      const mine = rows.filter((r) => r.source_format === format).map(({ source_format, ...r }) => ({ ...r, n: Number(r.n) }));
      expect(mine, format).toEqual([
        { db_user: 'alice', event_class: 'AUTH_FAILURE', command: 'CONNECT', audit_type: null, n: 3 },
        { db_user: 'alice', event_class: 'CONNECT', command: 'CONNECT', audit_type: null, n: 1 },
        { db_user: 'alice', event_class: 'DISCONNECT', command: 'DISCONNECT', audit_type: null, n: 1 },
        { db_user: 'alice', event_class: 'READ', command: 'SELECT', audit_type: 'OBJECT', n: 1 },
        { db_user: 'alice', event_class: 'READ', command: 'SELECT', audit_type: 'SESSION', n: 1 },
        { db_user: 'alice', event_class: 'WRITE', command: 'INSERT', audit_type: 'SESSION', n: 3 },
        { db_user: 'bob', event_class: 'CONNECT', command: 'CONNECT', audit_type: null, n: 1 },
        { db_user: 'bob', event_class: 'DISCONNECT', command: 'DISCONNECT', audit_type: null, n: 1 },
        { db_user: 'bob', event_class: 'ERROR', command: format === 'stderr' ? null : 'SELECT', audit_type: null, n: 1 },
      ]);
    }
  });

  it('keeps the bound parameters, row counts and statement text', async () => {
    const rows = await query(
      lake.dir,
      `SELECT statement_text, parameters, row_count, object_name FROM audit_events
       WHERE source_format = 'csvlog' AND db_user = 'alice' AND event_class IN ('READ', 'WRITE') AND audit_type = 'SESSION'
       ORDER BY event_time, statement_id`,
    );
    expect(rows).toEqual([
      { statement_text: 'INSERT INTO public.items VALUES ($1, $2)', parameters: ['1', 'a,b'], row_count: '1', object_name: 'public.items' },
      {
        statement_text: 'INSERT INTO public.items VALUES ($1, $2)',
        parameters: ['2', 'quote"d'],
        row_count: '1',
        object_name: 'public.items',
      },
      { statement_text: 'INSERT INTO public.items VALUES ($1, $2)', parameters: ['3', ''], row_count: '1', object_name: 'public.items' },
      { statement_text: 'SELECT * FROM public.items WHERE id = $1', parameters: ['2'], row_count: '1', object_name: 'public.items' },
    ]);
  });

  it('records the failed logins with SQLSTATE and client, and the permission error', async () => {
    const failures = await query(
      lake.dir,
      `SELECT db_user, client_addr, error_code, success FROM audit_events WHERE source_format = 'jsonlog' AND event_class = 'AUTH_FAILURE'`,
    );
    expect(failures).toEqual(Array(3).fill({ db_user: 'alice', client_addr: '127.0.0.1', error_code: '28P01', success: false }));
    const denied = await query(
      lake.dir,
      `SELECT error_code, error_message, statement_text FROM audit_events WHERE source_format = 'csvlog' AND db_user = 'bob' AND event_class = 'ERROR'`,
    );
    expect(denied).toEqual([
      { error_code: '42501', error_message: 'permission denied for table items', statement_text: 'SELECT count(*) FROM public.items;' },
    ]);
  });
});
