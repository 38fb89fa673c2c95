import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { tempLake } from '../support/lake.js';
import { type PgServer, startPgServer } from '../support/postgres.js';
import { type ProxyCli, startProxyCli } from '../support/proxy-cli.js';

/**
 * `auditlake proxy --rules` in front of a real PostgreSQL, with two built-in rules (so the alerts do not
 * depend on the hour the test runs): a TRUNCATE alerts at once and its alert is in the lake with its unit
 * while the proxy still runs; six wrong passwords raise the brute-force alert, a windowed rule flushed when
 * the proxy stops; the sink and the lake hold the same alerts, and `hunt` over the lake agrees.
 */

function alertKey(a: Record<string, unknown>): string {
  return `${a.rule_id} ${a.alert_id} ${a.group_key} ${(a.event_ids as string[]).join(',')}`;
}

async function alertFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.parquet'));
}

describe('auditlake proxy --rules', () => {
  let server: PgServer;
  let lake: Awaited<ReturnType<typeof tempLake>>;
  let proxy: ProxyCli | undefined;
  let stdout = '';
  let exitCode: number | null = null;
  let whileRunning: Record<string, unknown>[] = [];

  beforeAll(async () => {
    server = await startPgServer();
    lake = await tempLake();
    await server.psql(
      "CREATE ROLE dave LOGIN PASSWORD 'dave-pw'; CREATE TABLE public.drafts (id int); GRANT ALL ON public.drafts TO dave;",
    );
    const out = join(lake.dir, 'lake');
    const rules = join(lake.dir, 'rules');
    await mkdir(rules);
    for (const rule of ['auth-brute-force.yaml', 'destructive-ddl.yaml']) await copyFile(join('rules', rule), join(rules, rule));
    proxy = await startProxyCli(`127.0.0.1:${server.port}`, [
      '--out',
      out,
      '--instance-id',
      'rules-proxy',
      '--flush-seconds',
      '1',
      '--rules',
      rules,
      '--alerts-jsonl',
      join(lake.dir, 'alerts.jsonl'),
    ]);
    const port = proxy.port;

    const client = new pg.Client({ host: '127.0.0.1', port, user: 'dave', password: 'dave-pw', database: 'postgres' });
    await client.connect();
    await client.query('INSERT INTO public.drafts VALUES (1), (2)');
    await client.query('TRUNCATE public.drafts');
    await client.end();
    // The TRUNCATE alerts at once: its alert is written with its unit, before the proxy stops.
    for (let i = 0; i < 200 && whileRunning.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if ((await alertFiles(join(out, 'alerts'))).length === 0) continue;
      const r = await cli('query', '--lake', out, '--format', 'json', 'SELECT rule_id, origin FROM audit_alerts');
      if (r.code === 0) whileRunning = JSON.parse(r.out);
    }
    for (let i = 0; i < 6; i++) {
      const wrong = new pg.Client({ host: '127.0.0.1', port, user: 'dave', password: `guess-${i}`, database: 'postgres' });
      await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
    }
    exitCode = await proxy.stop();
    stdout = proxy.stdout();
  }, 180_000);

  afterAll(async () => {
    if (proxy && proxy.child.exitCode === null) proxy.child.kill('SIGKILL');
    await server?.stop();
    await lake?.cleanup();
  });

  it('writes an alert with the unit that raised it while the proxy runs', () => {
    expect(whileRunning).toEqual([{ rule_id: 'destructive-ddl', origin: 'stream' }]);
  });

  it('raises the brute force from failed logins through the proxy, flushed at shutdown, and agrees with hunt', async () => {
    expect(exitCode).toBe(0);
    const stopped = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'stopped');
    expect(stopped).toMatchObject({ alerts: 2, rules: { late_events: 0, caught_up_alerts: 0 } });

    const out = join(lake.dir, 'lake');
    const stored = await cli(
      'query',
      '--lake',
      out,
      '--format',
      'json',
      'SELECT * FROM audit_alerts WHERE NOT superseded ORDER BY rule_id',
    );
    expect(stored.code, stored.err).toBe(0);
    const alerts = JSON.parse(stored.out) as Record<string, unknown>[];
    expect(alerts.map((a) => a.rule_id)).toEqual(['auth-brute-force', 'destructive-ddl']);
    expect(alerts[0]).toMatchObject({ origin: 'stream', group_key: expect.stringMatching(/^db_user=dave,client_addr=/) });
    expect(Number(alerts[0].event_count)).toBe(5);

    // The sink got the same alerts as the lake.
    const sent = (await readFile(join(lake.dir, 'alerts.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(sent.map((a) => a.alert_id).sort()).toEqual(alerts.map((a) => a.alert_id).sort());

    const hunt = await cli('hunt', '--lake', out, join(lake.dir, 'rules'), '--format', 'jsonl');
    expect(hunt.code, hunt.err).toBe(0);
    const found = hunt.out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => alertKey(JSON.parse(l)));
    expect(alerts.map(alertKey).sort()).toEqual(found.sort());
  });
});
