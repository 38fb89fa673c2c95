import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendDigest, readHead } from '../../../src/lake/integrity/chain.js';
import { digestKey, parseDigest } from '../../../src/lake/integrity/digest-record.js';
import { bytesDigest, sha256Hex } from '../../../src/lake/integrity/file-digest.js';
import { LakeWriter } from '../../../src/lake/lake-writer.js';
import { writeStream } from '../../../src/pipeline/stream.js';
import type { Batch } from '../../../src/schema/index.js';
import { cli } from '../../support/cli.js';
import { collectFile } from '../../support/collect.js';
import { tempLake } from '../../support/lake.js';

/** Each kind of unit appends one digest whose entries match the stored files; the chain links them. */

describe('digests of each kind of unit', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    lake = await tempLake();
  });
  afterEach(() => lake.cleanup());

  it('an ingest and its alerts file: one digest each, hashes and rows as stored, linked', async () => {
    expect((await cli('ingest', 'fixtures/pgaudit/pg15.csv', '--out', lake.dir, '--rules', 'rules', '--json')).code).toBe(0);
    const [first, second] = await Promise.all([1, 2].map((n) => readFile(join(lake.dir, digestKey(n)))));
    const ingest = parseDigest(first);
    const alerts = parseDigest(second);
    expect(ingest).toMatchObject({ seq: 1, kind: 'ingest', previous_sha256: null });
    expect(alerts).toMatchObject({ seq: 2, kind: 'alerts', previous_sha256: sha256Hex(first) });
    const events = (await collectFile('fixtures/pgaudit/pg15.csv')).events.length;
    const parquet = ingest.written.filter((w) => w.key.endsWith('.parquet'));
    expect(parquet.reduce((n, w) => n + (w.rows ?? 0), 0)).toBe(events);
    expect(alerts.written.every((w) => w.key.startsWith('alerts/') && (w.rows ?? 0) > 0)).toBe(true);
    for (const w of [...ingest.written, ...alerts.written]) {
      const bytes = await readFile(join(lake.dir, w.key));
      expect({ sha256: sha256Hex(bytes), bytes: bytes.length }, w.key).toEqual({ sha256: w.sha256, bytes: w.bytes });
    }
    expect((await readHead(lake.storage))?.record.seq).toBe(2);
  }, 60_000);

  it('stream units: one digest per unit, kind stream, verify clean', async () => {
    const { events } = await collectFile('fixtures/pgaudit/pg15.csv');
    const writer = await LakeWriter.open(lake.storage);
    async function* items() {
      for (let i = 0; i < 3; i++) {
        const batch: Batch = { events: events.slice(i * 20, i * 20 + 20), rejected: [], skipped: {}, records: 20 };
        yield { batch };
      }
    }
    try {
      const totals = await writeStream(items(), writer, {
        source: 'pgaudit',
        name: 'test',
        flushEvents: 20,
        flushMs: 60_000,
        observers: [],
      });
      expect(totals.units).toBe(3);
    } finally {
      await writer.close();
    }
    for (let n = 1; n <= 3; n++) {
      const record = parseDigest(await readFile(join(lake.dir, digestKey(n))));
      expect(record).toMatchObject({ kind: 'stream', rows: 20 });
    }
    const run = await cli('verify', '--lake', lake.dir);
    expect(run.out).toContain('verify: clean');
  }, 60_000);

  it('writers racing for the next number each get their own: one linked chain, nothing overwritten', async () => {
    await mkdir(join(lake.dir, 'alerts'), { recursive: true });
    const units = Array.from({ length: 12 }, (_, i) => `unit-${i}`);
    await Promise.all(
      units.map(async (id) => {
        const key = `alerts/${id}.parquet`;
        await writeFile(join(lake.dir, key), id);
        const written = [{ key, ...bytesDigest(id) }];
        return appendDigest(
          lake.storage,
          { unit_id: id, kind: 'alerts', committed_at: new Date().toISOString(), written, removed: [], rows: 1 },
          null,
        );
      }),
    );
    const seen = [];
    for (let n = 1; n <= units.length; n++) seen.push(parseDigest(await readFile(join(lake.dir, digestKey(n)))).unit_id);
    expect(seen.sort()).toEqual([...units].sort());
    const run = await cli('verify', '--lake', lake.dir);
    expect(run.out).toContain('verify: clean');
    expect(run.code).toBe(0);
  });
});
