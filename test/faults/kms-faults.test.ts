import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_ID } from '../../fixtures/das/sample-records.js';
import { queryLake } from '../../src/cli/commands/query.js';
import { FsStorage } from '../../src/lake/fs-storage.js';
import { FIXTURES } from '../support/das-kms.js';
import { type KmsServer, startKmsServer } from '../support/kms-server.js';

/**
 * The KMS endpoint going away in the middle of a DAS ingest: the data key of the first record is
 * unwrapped, then the endpoint stops, so the next data key cannot be. The input whose key could not be
 * had fails whole (a KMS outage is not a bad record: nothing of it is quarantined or visible), the run
 * says so and exits 1; once KMS is back, a re-run leaves exactly the events of a clean run.
 */

const INPUTS = [`${FIXTURES}aurora-pg.jsonl`];

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function ingest(lake: string, kmsUrl: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const args = ['bin/auditlake.js', 'ingest', ...INPUTS, '--format', 'das', '--das-resource-id', CLUSTER_ID, '--out', lake, '--json'];
    // The child must exit by itself: an idle decryption pool never keeps a finished process alive.
    const child = spawn(process.execPath, args, {
      env: {
        ...process.env,
        AWS_ENDPOINT_URL_KMS: kmsUrl,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        // The SDK's own retries, kept short so the outage outlasts them.
        AWS_MAX_ATTEMPTS: '2',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

async function multiset(lake: string): Promise<string> {
  const { rows } = await queryLake(lake, 'SELECT event_id, count(*) AS n FROM audit_events GROUP BY 1 ORDER BY 1');
  return (rows as { event_id: string; n: string }[]).map((r) => `${r.event_id}:${r.n}`).join('\n');
}

describe('fault campaign: the KMS endpoint stops in the middle of a DAS ingest', () => {
  let dir: string;
  let clean: string;
  let port = 0;
  let kms: KmsServer | null = null;
  const keyFile = `${FIXTURES}kms-keys.json`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auditlake-kms-faults-'));
    kms = await startKmsServer({ keyFile });
    port = Number(new URL(kms.url).port);
    const lake = join(dir, 'clean');
    const run = await ingest(lake, kms.url);
    expect(run.code, run.err).toBe(0);
    expect(JSON.parse(run.out).kms_calls ?? kms.calls.Decrypt).toBeGreaterThan(1);
    clean = await multiset(lake);
    expect(clean.split('\n').length).toBeGreaterThan(10);
    await kms.stop();
    kms = null;
  }, 120_000);

  afterAll(async () => {
    await kms?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails the input whole while KMS is gone, and a re-run once it is back equals a clean run', async () => {
    const lake = join(dir, 'outage');
    // Serve the first Decrypt, then go away.
    let stopping: Promise<void> | null = null;
    const server = await startKmsServer({
      keyFile,
      port,
      onCall: (operation) => {
        if (operation === 'Decrypt') stopping ??= server.stop();
      },
    });
    const broken = await ingest(lake, server.url);
    await stopping;
    expect(broken.code, broken.err).toBe(1);
    const summary = JSON.parse(broken.out);
    expect(summary.failed_inputs).toBe(1);
    expect(summary.inputs[0].error).toMatch(/KMS|ECONNREFUSED|connect/i);
    // Nothing of the failed input is visible, nothing quarantined, nothing left pending.
    expect(summary.events).toBe(0);
    expect(summary.quarantined).toBe(0);
    const storage = new FsStorage(lake);
    expect((await storage.list('events/')).filter((k) => k.endsWith('.parquet'))).toEqual([]);
    expect(await storage.list('_quarantine/')).toEqual([]);
    expect(await storage.list('_state/pending/')).toEqual([]);

    kms = await startKmsServer({ keyFile, port });
    const rerun = await ingest(lake, kms.url);
    expect(rerun.code, rerun.err).toBe(0);
    expect(await multiset(lake)).toBe(clean);
  }, 120_000);
});
