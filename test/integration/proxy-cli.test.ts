import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { tempLake } from '../support/lake.js';
import { type PgServer, startPgServer } from '../support/postgres.js';
import { type ProxyCli, startProxyCli } from '../support/proxy-cli.js';

/**
 * `auditlake proxy` as a user runs it: a child process in front of a real PostgreSQL, stopped with
 * SIGTERM, leaving a lake that `auditlake sessions` and `auditlake query` read.
 */

describe('auditlake proxy (CLI)', () => {
  let server: PgServer;
  let lake: Awaited<ReturnType<typeof tempLake>>;
  let eventsDir: Awaited<ReturnType<typeof tempLake>>;
  let proxy: ProxyCli | undefined;
  let stdout = '';
  let exitCode: number | null = null;

  beforeAll(async () => {
    server = await startPgServer();
    lake = await tempLake();
    eventsDir = await tempLake();
    await server.psql(
      "CREATE ROLE carol LOGIN PASSWORD 'carol-pw'; CREATE TABLE public.notes (id int, body text); GRANT ALL ON public.notes TO carol;",
    );
    proxy = await startProxyCli(`127.0.0.1:${server.port}`, ['--out', lake.dir, '--events', eventsDir.dir, '--instance-id', 'test-proxy']);
    const port = proxy.port;
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'carol',
      password: 'carol-pw',
      database: 'postgres',
      application_name: 'notes-app',
    });
    await client.connect();
    await client.query('INSERT INTO public.notes VALUES ($1, $2), ($3, $4)', [1, 'first', 2, 'sec,ond']);
    const rows = await client.query('SELECT body FROM public.notes WHERE id = $1', [2]);
    expect(rows.rows).toEqual([{ body: 'sec,ond' }]);
    await expect(client.query('SELECT * FROM public.missing')).rejects.toThrow(/does not exist/);
    await client.end();
    const wrong = new pg.Client({ host: '127.0.0.1', port, user: 'carol', password: 'nope', database: 'postgres' });
    await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
    exitCode = await proxy.stop();
    stdout = proxy.stdout();
  }, 120_000);

  afterAll(async () => {
    if (proxy && proxy.child.exitCode === null) proxy.child.kill('SIGKILL');
    await server?.stop();
    await lake?.cleanup();
    await eventsDir?.cleanup();
  });

  it('stops cleanly on SIGTERM after writing what it recorded', () => {
    expect(exitCode).toBe(0);
    const stopped = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'stopped');
    expect(stopped).toMatchObject({ events: 6, sessions: 2 });
  });

  it('lands every statement, parameter, row count, error and login outcome in the lake', async () => {
    const r = await cli(
      'query',
      '--lake',
      lake.dir,
      '--format',
      'json',
      `SELECT event_class, command, statement_text, parameters, row_count, error_code, success, db_user, application_name
      FROM audit_events WHERE source = 'proxy' ORDER BY event_class = 'AUTH_FAILURE', event_time, statement_id`,
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual([
      {
        event_class: 'CONNECT',
        command: 'CONNECT',
        statement_text: null,
        parameters: null,
        row_count: null,
        error_code: null,
        success: true,
        db_user: 'carol',
        application_name: 'notes-app',
      },
      {
        event_class: 'WRITE',
        command: 'INSERT',
        statement_text: 'INSERT INTO public.notes VALUES ($1, $2), ($3, $4)',
        parameters: ['1', 'first', '2', 'sec,ond'],
        row_count: '2',
        error_code: null,
        success: true,
        db_user: 'carol',
        application_name: 'notes-app',
      },
      {
        event_class: 'READ',
        command: 'SELECT',
        statement_text: 'SELECT body FROM public.notes WHERE id = $1',
        parameters: ['2'],
        row_count: '1',
        error_code: null,
        success: true,
        db_user: 'carol',
        application_name: 'notes-app',
      },
      {
        event_class: 'READ',
        command: 'SELECT',
        statement_text: 'SELECT * FROM public.missing',
        parameters: [],
        row_count: null,
        error_code: '42P01',
        success: false,
        db_user: 'carol',
        application_name: 'notes-app',
      },
      {
        event_class: 'DISCONNECT',
        command: 'DISCONNECT',
        statement_text: null,
        parameters: null,
        row_count: null,
        error_code: null,
        success: true,
        db_user: 'carol',
        application_name: 'notes-app',
      },
      {
        event_class: 'AUTH_FAILURE',
        command: 'CONNECT',
        statement_text: null,
        parameters: null,
        row_count: null,
        error_code: '28P01',
        success: false,
        db_user: 'carol',
        application_name: null,
      },
    ]);
  });

  it('shows the session list and one session timeline', async () => {
    const list = await cli('sessions', '--lake', lake.dir, '--user', 'carol', '--format', 'json');
    const sessions = JSON.parse(list.out) as Record<string, unknown>[];
    expect(sessions.length).toBe(2);
    const ok = sessions.find((s) => s.ended) as Record<string, unknown>;
    expect(ok).toMatchObject({ source: 'proxy', db_user: 'carol', statements: '3', failures: '1' });
    const timeline = await cli('sessions', '--lake', lake.dir, String(ok.session_id));
    expect(timeline.code).toBe(0);
    expect(timeline.out).toContain('sec,ond');
    expect(timeline.out).toContain('42P01');
    expect(timeline.out).toContain('(5 rows)');
  });

  it('writes the same events as JSONL that ingest reads back with the same ids', async () => {
    const files = (await readdir(eventsDir.dir)).filter((f) => f.endsWith('.jsonl'));
    expect(files.length).toBeGreaterThan(0);
    const again = await tempLake();
    try {
      const ingest = await cli('ingest', ...files.map((f) => join(eventsDir.dir, f)), '--out', again.dir, '--json');
      expect(JSON.parse(ingest.out)).toMatchObject({ events: 6, quarantined: 0 });
      const sql = 'SELECT event_id FROM audit_events ORDER BY event_id';
      expect((await cli('query', '--lake', again.dir, '--format', 'csv', sql)).out).toBe(
        (await cli('query', '--lake', lake.dir, '--format', 'csv', sql)).out,
      );
    } finally {
      await again.cleanup();
    }
  });
});
