import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLake } from '../../src/lake/integrity/verify.js';
import { acquireLakeLock, LakeLockedError, LEASE_MS, S3_LOCK_KEY } from '../../src/lake/lake-lock.js';
import { LakeWriter } from '../../src/lake/lake-writer.js';
import { S3Storage } from '../../src/lake/s3-storage.js';
import { writeUnit } from '../../src/pipeline/unit-stage.js';
import { newBatch } from '../../src/schema/index.js';
import { collectFile } from '../support/collect.js';
import { TestS3 } from '../support/s3.js';

/**
 * Racing writers on an S3 lake. s3rver ignores `If-None-Match`/`If-Match` (the first test shows it), so
 * the races run against s3rver with S3's documented conditional-write answers added in front of it
 * (`TestS3.start({ conditionalWrites: true })`): the lake lock lets exactly one of many writers in,
 * an expired lease is taken over by exactly one, and concurrent writers that do not lock (Lambda
 * invocations) still build one unbroken digest chain.
 */

describe('s3rver as it is', () => {
  it('ignores conditional writes: last write wins', async () => {
    const s3 = await TestS3.start();
    try {
      const storage = new S3Storage('s3://lake/plain');
      expect(await storage.putConditional('k', 'one')).not.toBeNull();
      // Real S3 answers 412 to both of these; s3rver stores them.
      expect(await storage.putConditional('k', 'two')).not.toBeNull();
      expect(await storage.putConditional('k', 'three', 'not-the-etag')).not.toBeNull();
    } finally {
      await s3.close();
    }
  });
});

describe('racing writers on S3 (conditional writes as S3 answers them)', () => {
  let s3: TestS3;
  let n = 0;
  beforeAll(async () => {
    s3 = await TestS3.start({ conditionalWrites: true });
  });
  afterAll(() => s3.close());
  const lake = () => `s3://lake/race-${++n}`;

  it('answers conditional writes as S3 does', async () => {
    const storage = new S3Storage(lake());
    const etag = await storage.putConditional('k', 'one');
    expect(etag).not.toBeNull();
    expect(await storage.putConditional('k', 'two')).toBeNull();
    expect(await storage.putConditional('k', 'two', 'not-the-etag')).toBeNull();
    const next = await storage.putConditional('k', 'two', etag as string);
    expect(next).not.toBeNull();
    expect(await storage.putConditional('k', 'three', etag as string)).toBeNull();
    expect(await storage.putConditional('k', 'three', next as string)).not.toBeNull();
  });

  it('lets exactly one of eight writers take the lock; the others are told who holds it', async () => {
    const url = lake();
    const tries = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => acquireLakeLock(new S3Storage(url), `ingest-${i}`)));
    const won = tries.filter((t) => t.status === 'fulfilled');
    const lost = tries.filter((t) => t.status === 'rejected').map((t) => (t as PromiseRejectedResult).reason);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(7);
    const holder = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLakeLock>>>).value;
    for (const e of lost) {
      expect(e).toBeInstanceOf(LakeLockedError);
      expect((e as Error).message).toContain(`auditlake ${holder.holder.command} (pid ${process.pid}`);
    }
    await holder.release();
    const next = await acquireLakeLock(new S3Storage(url), 'compact');
    await next.release();
  });

  it('lets exactly one of four writers take over an expired lease', async () => {
    const url = lake();
    const expired = {
      command: 'ingest',
      host: 'gone-host',
      pid: 1,
      acquired_at: new Date(Date.now() - 10 * LEASE_MS).toISOString(),
      nonce: 'dead',
      lease_until: new Date(Date.now() - LEASE_MS).toISOString(),
    };
    await new S3Storage(url).putBytes(S3_LOCK_KEY, `${JSON.stringify(expired)}\n`);
    const tries = await Promise.allSettled(Array.from({ length: 4 }, () => acquireLakeLock(new S3Storage(url), 'ingest')));
    expect(tries.filter((t) => t.status === 'fulfilled')).toHaveLength(1);
    for (const t of tries) if (t.status === 'fulfilled') await t.value.release();
  });

  it('builds one unbroken digest chain from four writers committing at once without the lock', async () => {
    const url = lake();
    const { events } = await collectFile('fixtures/pgaudit/pg15-rds.log');
    const slices = [0, 1, 2, 3].map((i) => events.filter((_, j) => j % 4 === i));
    const writers = await Promise.all(slices.map(() => LakeWriter.open(new S3Storage(url))));
    try {
      await Promise.all(
        slices.map((slice, i) =>
          writeUnit(writers[i], {
            source: 'pgaudit',
            name: `invocation-${i}`,
            kind: 'stream',
            batches: [{ ...newBatch(), events: slice, records: slice.length }],
            key: () => String(i).repeat(20),
          }),
        ),
      );
    } finally {
      for (const w of writers) await w.close();
    }
    const findings: string[] = [];
    const summary = await verifyLake(new S3Storage(url), { onEvent: (e) => findings.push(`${e.type} ${e.key}`) });
    expect(summary.digests).toBe(4);
    expect(summary.digest_problems).toBe(0);
    expect(summary.clean).toBe(true);
    expect(findings.filter((f) => f.startsWith('digest'))).toEqual([]);
  }, 60_000);
});
