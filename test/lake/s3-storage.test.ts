import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseS3Url, S3_MAX_ATTEMPTS, S3Storage, s3Client } from '../../src/lake/s3-storage.js';
import { TestS3 } from '../support/s3.js';

/** Records the headers of every request the storage's client sends, by operation. */
async function recordRequests(
  storage: S3Storage,
): Promise<{ op: string; headers: Record<string, string>; started: number; ended: number }[]> {
  const seen: { op: string; headers: Record<string, string>; started: number; ended: number }[] = [];
  (await storage.client()).middlewareStack.add(
    (next, context) => async (args) => {
      const request = {
        op: context.commandName ?? '',
        headers: { ...(args.request as { headers: Record<string, string> }).headers },
        started: performance.now(),
        ended: Infinity,
      };
      seen.push(request);
      try {
        return await next(args);
      } finally {
        request.ended = performance.now();
      }
    },
    { step: 'finalizeRequest', name: 'recordRequests' },
  );
  return seen;
}

describe('S3 storage (s3rver)', () => {
  let s3: TestS3;
  let dir: string;
  beforeAll(async () => {
    s3 = await TestS3.start();
    dir = await mkdtemp(join(tmpdir(), 'auditlake-s3-storage-'));
  });
  afterAll(async () => {
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('parses s3:// URLs into bucket and prefix', () => {
    expect(parseS3Url('s3://lake')).toEqual({ bucket: 'lake', prefix: '' });
    expect(parseS3Url('s3://lake/a/b')).toEqual({ bucket: 'lake', prefix: 'a/b/' });
    expect(parseS3Url('s3://lake/a/b/')).toEqual({ bucket: 'lake', prefix: 'a/b/' });
    expect(() => parseS3Url('s3://')).toThrow('expected s3://bucket/prefix');
  });

  it('stores, lists, gets and deletes objects under its prefix, with SSE-S3 on every write', async () => {
    const storage = new S3Storage('s3://lake/root');
    const requests = await recordRequests(storage);
    await storage.putBytes('_state/a.json', '{"a":1}\n');
    const file = join(dir, 'small.bin');
    const bytes = randomBytes(100_000);
    await writeFile(file, bytes);
    await storage.putFile('events/x/small.bin', file);
    await expect(stat(file)).rejects.toThrow();
    expect(await storage.list('')).toEqual(['_state/a.json', 'events/x/small.bin']);
    expect(await storage.listObjects('events/')).toEqual([{ key: 'events/x/small.bin', size: 100_000 }]);
    expect((await storage.get('events/x/small.bin'))?.equals(bytes)).toBe(true);
    expect(await storage.get('missing')).toBeNull();
    const copy = join(dir, 'copy.bin');
    expect(await storage.download('events/x/small.bin', copy)).toBe(true);
    expect((await readFile(copy)).equals(bytes)).toBe(true);
    expect(await storage.download('missing', copy)).toBe(false);
    await storage.delete('_state/a.json');
    await storage.delete('_state/never-was.json');
    expect(await storage.list('_state/')).toEqual([]);
    expect(storage.localPath()).toBeNull();
    const writes = requests.filter((r) => r.op === 'PutObjectCommand');
    expect(writes).toHaveLength(2);
    for (const w of writes) expect(w.headers['x-amz-server-side-encryption']).toBe('AES256');
    // The IP endpoint is addressed path-style: the bucket is in the path, not the host name.
    expect(s3.events.some((e) => e.bucket === 'lake' && e.key === 'root/events/x/small.bin')).toBe(true);
  });

  it('uploads large files in parts, byte-exact, with SSE-KMS when a key is given', async () => {
    const storage = new S3Storage('s3://lake/mp', {
      multipartThreshold: 6 * 1024 * 1024,
      partSize: 5 * 1024 * 1024,
      sseKmsKeyId: 'alias/audit',
    });
    const requests = await recordRequests(storage);
    const file = join(dir, 'large.bin');
    const bytes = randomBytes(12 * 1024 * 1024 + 12345);
    await writeFile(file, bytes);
    await storage.putFile('big.bin', file);
    const ops = requests.map((r) => r.op);
    expect(ops).toEqual([
      'CreateMultipartUploadCommand',
      'UploadPartCommand',
      'UploadPartCommand',
      'UploadPartCommand',
      'CompleteMultipartUploadCommand',
    ]);
    expect(requests[0].headers['x-amz-server-side-encryption']).toBe('aws:kms');
    expect(requests[0].headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe('alias/audit');
    // The three parts were in flight together, not one after another.
    const parts = requests.filter((r) => r.op === 'UploadPartCommand');
    expect(Math.max(...parts.map((p) => p.started))).toBeLessThan(Math.min(...parts.map((p) => p.ended)));
    const back = await storage.get('big.bin');
    expect(back?.length).toBe(bytes.length);
    expect(back?.equals(bytes)).toBe(true);
  });

  it('lets AWS_MAX_ATTEMPTS set the attempts of the S3 client (default 5)', async () => {
    expect(await (await s3Client()).config.maxAttempts()).toBe(S3_MAX_ATTEMPTS);
    process.env.AWS_MAX_ATTEMPTS = '2';
    try {
      expect(await (await s3Client()).config.maxAttempts()).toBe(2);
    } finally {
      delete process.env.AWS_MAX_ATTEMPTS;
    }
  });

  it('aborts a failed multipart upload and leaves no object', async () => {
    const storage = new S3Storage('s3://lake/fail', { multipartThreshold: 6 * 1024 * 1024, partSize: 5 * 1024 * 1024 });
    const requests = await recordRequests(storage);
    let parts = 0;
    (await storage.client()).middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UploadPartCommand' && ++parts === 2)
          throw Object.assign(new Error('injected part failure'), { $fault: 'client' });
        return next(args);
      },
      { step: 'initialize', name: 'failSecondPart' },
    );
    const file = join(dir, 'fail.bin');
    await writeFile(file, randomBytes(11 * 1024 * 1024));
    await expect(storage.putFile('half.bin', file)).rejects.toThrow('injected part failure');
    expect(requests.map((r) => r.op)).toContain('AbortMultipartUploadCommand');
    expect(await storage.list('')).toEqual([]);
    expect(await storage.get('half.bin')).toBeNull();
  });
});
