import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestKey, parseDigest } from '../../../src/lake/integrity/digest-record.js';
import { verifyLake } from '../../../src/lake/integrity/verify.js';
import { S3Storage } from '../../../src/lake/s3-storage.js';
import { cli } from '../../support/cli.js';
import { type KmsServer, startKmsServer } from '../../support/kms-server.js';
import { TestS3 } from '../../support/s3.js';

/**
 * `auditlake verify` on an S3 lake (s3rver), digests signed with a KMS ECC_NIST_P256 key through the
 * local KMS endpoint: clean after ingest, re-ingest and compaction; each tampering found, exit 3, path named.
 */

// Three inputs whose events are all distinct (the csvlog and jsonlog of one server hold the same records, stored once).
const INPUTS = ['fixtures/pgaudit/pg15.csv', 'fixtures/pgaudit/pg15-rds.log', 'fixtures/pgaudit/pg15-rds.cloudwatch.json'];
const KEY = 'arn:aws:kms:us-east-1:000000000000:key/lake-signing';

describe('auditlake verify (S3 lake, KMS-signed digests)', () => {
  let s3: TestS3;
  let kms: KmsServer;
  let dir: string;
  const saved = process.env.AWS_ENDPOINT_URL_KMS;
  let n = 0;

  beforeAll(async () => {
    s3 = await TestS3.start();
    dir = await mkdtemp(join(tmpdir(), 'auditlake-verify-s3-'));
    await writeFile(join(dir, 'keys.json'), JSON.stringify({ [KEY]: { spec: 'ECC_NIST_P256' } }));
    kms = await startKmsServer({ keyFile: join(dir, 'keys.json') });
    process.env.AWS_ENDPOINT_URL_KMS = kms.url;
  });
  afterAll(async () => {
    await kms.stop();
    await s3.close();
    process.env.AWS_ENDPOINT_URL_KMS = saved;
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh S3 lake with one digest per input. */
  async function lake(): Promise<{ url: string; storage: S3Storage }> {
    const url = `s3://lake/v${++n}`;
    for (const input of INPUTS) expect((await cli('ingest', input, '--out', url, '--sign-kms-key', 'lake-signing', '--json')).code).toBe(0);
    return { url, storage: new S3Storage(url) };
  }

  const verify = (url: string) => cli('verify', '--lake', url, '--kms-key', KEY);

  it('verifies clean after ingest, re-ingest and compaction, every digest signed by the KMS key', async () => {
    const { url } = await lake();
    const first = await cli('verify', '--lake', url, '--kms-key', KEY, '--json');
    expect(JSON.parse(first.out.trim().split('\n').at(-1) ?? '')).toMatchObject({ digests: 3, signed: 3, clean: true });
    expect(first.code).toBe(0);
    expect((await cli('ingest', INPUTS[0], '--out', url, '--sign-kms-key', KEY, '--json')).code).toBe(0);
    expect((await cli('compact', '--lake', url, '--sign-kms-key', KEY, '--json')).code).toBe(0);
    const run = await verify(url);
    expect(run.out).toContain('verify: clean');
    expect(run.code).toBe(0);
  }, 120_000);

  it('finds a changed byte, a deleted file, an inserted file and a digest removed from the middle', async () => {
    const { url, storage } = await lake();
    // Tamper with files of the first and last inputs; the middle digest (second input) is removed.
    const middle = parseDigest((await storage.get(digestKey(2))) as Buffer).written.map((w) => w.key);
    const manifest = middle.find((k) => k.startsWith('_state/manifests/'));
    const events = (await storage.list('events/')).filter((k) => k.endsWith('.parquet') && !middle.includes(k));
    const [changed, deleted] = events;
    const bytes = (await storage.get(changed)) as Buffer;
    bytes[100] ^= 0xff;
    await s3.put('lake', `v${n}/${changed}`, bytes);
    await storage.delete(deleted);
    const inserted = changed.replace(/-0\.parquet$/, '-5.parquet');
    await s3.put('lake', `v${n}/${inserted}`, bytes);
    await storage.delete(digestKey(2));
    const run = await verify(url);
    expect(run.code).toBe(3);
    expect(run.out).toContain(`MODIFIED      ${changed}`);
    expect(run.out).toContain(`MISSING       ${deleted}`);
    expect(run.out).toContain(`UNEXPECTED    ${inserted}`);
    expect(run.out).toContain(`GAP           ${digestKey(2)}`);
    // The removed digest's own files are no longer named by the chain.
    expect(manifest).toBeDefined();
    expect(run.out).toContain(`UNEXPECTED    ${manifest}`);
  }, 120_000);

  it('finds a digest edited in place: its KMS signature no longer verifies', async () => {
    const { url, storage } = await lake();
    const body = ((await storage.get(digestKey(1))) as Buffer).toString('utf8').replace('"kind":"ingest"', '"kind":"alerts"');
    await storage.putBytes(digestKey(1), body);
    const run = await verify(url);
    expect(run.code).toBe(3);
    expect(run.out).toContain(`BAD-SIGNATURE ${digestKey(1)}`);
    expect(run.out).toContain(`BROKEN-LINK   ${digestKey(2)}`);
  }, 120_000);

  it('finds the same with every sort spilling after two entries, its scratch folder outside the bucket and removed', async () => {
    const { storage } = await lake();
    const [deleted, other] = (await storage.list('events/')).filter((k) => k.endsWith('.parquet'));
    await storage.delete(deleted);
    const inserted = other.replace(/\.parquet$/, '-slipped.parquet');
    await s3.put('lake', `v${n}/${inserted}`, (await storage.get(other)) as Buffer);
    // The scratch folder goes to the system temp folder: a private one here, to see it come and go.
    const temp = join(dir, 'tmp');
    await mkdir(temp);
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = temp;
    const during: string[][] = [];
    const run = async (runSize?: number) => {
      const events: string[] = [];
      const summary = await verifyLake(storage, {
        runSize,
        onEvent: (e) => {
          if (events.push(JSON.stringify(e)) === 1) during.push(readdirSync(temp));
        },
      });
      return { summary, events: events.sort() };
    };
    try {
      const spilled = await run(2);
      const inMemory = await run();
      expect(spilled).toEqual(inMemory);
      expect(spilled.summary.files).toMatchObject({ missing: 1, unexpected: 1, modified: 0 });
      expect(spilled.events).toContain(
        JSON.stringify({ type: 'file', status: 'missing', key: deleted, detail: 'named by the chain, not in the lake' }),
      );
      expect(spilled.events).toContain(JSON.stringify({ type: 'file', status: 'unexpected', key: inserted, detail: 'in no digest' }));
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
    expect(during).toEqual([[expect.stringMatching(/^auditlake-verify-/)], [expect.stringMatching(/^auditlake-verify-/)]]);
    expect(await readdir(temp)).toEqual([]);
    expect(await storage.list('_state/verify-tmp/')).toEqual([]);
  }, 120_000);
});
