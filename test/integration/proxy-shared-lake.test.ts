import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { collectFile } from '../support/collect.js';
import { tempLake } from '../support/lake.js';
import { type PgServer, startPgServer } from '../support/postgres.js';
import { type ProxyCli, startProxyCli } from '../support/proxy-cli.js';

/**
 * Several proxy tasks behind one load balancer record into one lake (the deployed stack runs two by
 * default), and a proxy runs for days: so the proxy takes no lake lock. Two `auditlake proxy` processes
 * share a lake, an `ingest` writes into it while both run, and the lake then holds every statement of
 * both once, with a digest chain that verifies clean.
 */

async function queryThrough(port: number, marker: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'postgres', database: 'postgres' });
  await client.connect();
  await client.query(`SELECT '${marker}' AS marker`);
  await client.query('SELECT $1::text AS marker', [marker]);
  await client.end();
}

describe('two proxies recording into one lake', () => {
  let server: PgServer;
  let lake: Awaited<ReturnType<typeof tempLake>>;
  const proxies: ProxyCli[] = [];
  let ingest: { code: number; out: string; err: string };
  const exitCodes: (number | null)[] = [];

  beforeAll(async () => {
    server = await startPgServer();
    lake = await tempLake();
    const a = await startProxyCli(`127.0.0.1:${server.port}`, ['--out', lake.dir, '--instance-id', 'task-a']);
    proxies.push(a);
    const b = await startProxyCli(`127.0.0.1:${server.port}`, ['--out', lake.dir, '--instance-id', 'task-b']);
    proxies.push(b);
    await queryThrough(a.port, 'through-a');
    await queryThrough(b.port, 'through-b');
    // A writer that does take the lock is not kept out by running proxies.
    ingest = await cli('ingest', 'fixtures/pgaudit/pg13.csv', '--out', lake.dir, '--json');
    for (const p of proxies) exitCodes.push(await p.stop());
  }, 120_000);

  afterAll(async () => {
    for (const p of proxies) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await server?.stop();
    await lake?.cleanup();
  });

  it('starts both, and lets an ingest write beside them', async () => {
    expect(exitCodes).toEqual([0, 0]);
    expect(ingest.code, ingest.err).toBe(0);
    const expected = (await collectFile('fixtures/pgaudit/pg13.csv')).events.length;
    expect(JSON.parse(ingest.out).events).toBe(expected);
    const r = await cli('query', '--lake', lake.dir, '--format', 'json', "SELECT count(*) AS n FROM audit_events WHERE source = 'pgaudit'");
    expect(JSON.parse(r.out)).toEqual([{ n: String(expected) }]);
  });

  it("holds each proxy's statements once, under its own instance", async () => {
    const r = await cli(
      'query',
      '--lake',
      lake.dir,
      '--format',
      'json',
      `SELECT regexp_extract(source_ref, '^proxy:([^/]+)/', 1) AS instance, statement_text, parameters FROM audit_events
       WHERE source = 'proxy' AND command = 'SELECT' ORDER BY instance, len(parameters)`,
    );
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual([
      { instance: 'task-a', statement_text: "SELECT 'through-a' AS marker", parameters: [] },
      { instance: 'task-a', statement_text: 'SELECT $1::text AS marker', parameters: ['through-a'] },
      { instance: 'task-b', statement_text: "SELECT 'through-b' AS marker", parameters: [] },
      { instance: 'task-b', statement_text: 'SELECT $1::text AS marker', parameters: ['through-b'] },
    ]);
  });

  it('leaves one digest chain that verifies clean', async () => {
    const r = await cli('verify', '--lake', lake.dir, '--json');
    expect(r.code, r.out + r.err).toBe(0);
  });
});
