import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLUSTER_ID } from '../../fixtures/das/sample-records.js';
import { cli } from '../support/cli.js';
import { startKmsServer } from '../support/kms-server.js';
import { tempLake } from '../support/lake.js';

/**
 * Late events end to end: the logs of two instances in one folder are read one after the other, the
 * second older than the first, so every event of the second arrives behind the stream. The catch-up
 * pass raises what the stream could not (the brute force is in the older log), and the current alerts
 * in the lake are exactly what `hunt` finds over it.
 */

function time(minute: number, second: number): string {
  return `2026-11-22 ${String(10 + Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}:${String(second).padStart(2, '0')}.000 UTC`;
}

/** A csvlog (PostgreSQL 15, 26 columns) failed-password line. */
function failedLogin(minute: number, second: number, user: string, pid: number): string {
  const t = time(minute, second);
  return `${t},"${user}","appdb",${pid},"198.51.100.9:50${pid % 1000}",6b023d93.${pid.toString(16)},2,"authentication",${t},3/75,0,FATAL,28P01,"password authentication failed for user ""${user}""","Connection matched pg_hba.conf line 3: ""host all all all scram-sha-256""",,,,,,,,"","client backend",,0`;
}

/** A csvlog pgAudit line: a DELETE without WHERE on a table. */
function deleteAll(minute: number, user: string, pid: number, n: number): string {
  const t = time(minute, 0);
  return `${t},"${user}","appdb",${pid},"10.0.0.5:40${pid % 1000}",6b023d93.${pid.toString(16)},${n},"DELETE",${t},3/74,767,LOG,00000,"AUDIT: SESSION,${n},1,WRITE,DELETE,TABLE,public.orders,DELETE FROM orders;,<none>,1",,,,,,,,,"psql","client backend",,0`;
}

function alertKey(a: Record<string, unknown>): string {
  return `${a.rule_id} ${a.alert_id} ${a.group_key} ${(a.event_ids as string[]).join(',')}`;
}

describe('late events across inputs', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    lake = await tempLake();
  });
  afterEach(() => lake.cleanup());

  /** The current alerts of a lake (not superseded) and hunt's over it, as comparable keys. */
  async function currentAndHunt(out: string): Promise<{ current: string[]; hunt: string[] }> {
    const stored = await cli('query', '--lake', out, '--format', 'json', 'SELECT * FROM audit_alerts WHERE NOT superseded');
    expect(stored.code).toBe(0);
    const hunt = await cli('hunt', '--lake', out, '--format', 'jsonl');
    expect(hunt.code).toBe(0);
    const found = hunt.out.trim().split('\n').filter(Boolean);
    return {
      current: (JSON.parse(stored.out) as Record<string, unknown>[]).map(alertKey).sort(),
      hunt: found.map((l) => alertKey(JSON.parse(l))).sort(),
    };
  }

  it('the demo inputs (every source): the alerts of the ingest are the alerts hunt finds', async () => {
    const kms = await startKmsServer({ keyFile: 'fixtures/das/kms-keys.json' });
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_KMS: kms.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    const out = join(lake.dir, 'lake');
    try {
      const inputs = ['fixtures/pgaudit/pg15.csv', 'fixtures/das/aurora-pg.jsonl', 'fixtures/proxy/sessions.jsonl'];
      const run = await cli('ingest', ...inputs, '--das-resource-id', CLUSTER_ID, '--out', out, '--json', '--rules', 'rules');
      expect(run.code).toBe(0);
      const summary = JSON.parse(run.out);
      expect(summary.rules.late_events).toBeGreaterThan(0); // the DAS records are years older than the csvlog
      const { current, hunt } = await currentAndHunt(out);
      expect(current).toEqual(hunt);
      expect(hunt.length).toBe(summary.alerts - summary.rules.superseded_alerts);
    } finally {
      process.env = saved;
      await kms.stop();
    }
  });

  it('two instance logs in one folder raise the brute-force alert, and the lake holds what hunt finds', async () => {
    const logs = join(lake.dir, 'logs');
    await mkdir(logs);
    // Read first (names sort): the newer instance, two hours after the other.
    await writeFile(join(logs, 'instance-1.csv'), `${[0, 1, 2].map((i) => deleteAll(120 + i * 20, 'etl', 7100 + i, 1)).join('\n')}\n`);
    // Read second: the older instance, where someone guesses mallory's password eight times.
    const failures = Array.from({ length: 8 }, (_, i) => failedLogin(5, i * 5, 'mallory', 8200 + i));
    await writeFile(join(logs, 'instance-2.csv'), `${[...failures, deleteAll(6, 'etl', 8300, 1)].join('\n')}\n`);
    const out = join(lake.dir, 'lake');
    const run = await cli('ingest', logs, '--out', out, '--json', '--rules', 'rules');
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.out);
    expect(summary.events).toBe(12);
    expect(summary.rules.late_events).toBe(9); // every event of the older log is behind the newer one
    expect(summary.rules.caught_up_alerts).toBeGreaterThan(0);

    const stored = await cli('query', '--lake', out, '--format', 'json', "SELECT * FROM audit_alerts WHERE rule_id = 'auth-brute-force'");
    const brute = JSON.parse(stored.out) as Record<string, unknown>[];
    expect(brute).toHaveLength(1);
    expect(brute[0]).toMatchObject({ group_key: 'db_user=mallory,client_addr=198.51.100.9', origin: 'catch-up' });
    expect(Number(brute[0].event_count)).toBe(5);

    const { current, hunt } = await currentAndHunt(out);
    expect(current).toEqual(hunt);
    expect(hunt.length).toBe(summary.alerts);
  });
});
