import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryLake } from '../../src/cli/commands/query.js';
import { compactLake } from '../../src/lake/compact.js';
import { FsStorage } from '../../src/lake/fs-storage.js';
import { LakeWriter } from '../../src/lake/lake-writer.js';
import { DEFAULT_PARQUET } from '../../src/lake/parquet-convert.js';
import { DEFAULT_BATCH_SIZE, ingestFiles } from '../../src/pipeline/ingest.js';
import { collectFile } from '../support/collect.js';
import { ingestInto, tempLake } from '../support/lake.js';

/**
 * A writer without the lake's lock (the proxy, a Lambda handler) runs beside a compaction. Before its unit
 * commits it reads the other files of the partitions it writes, to store each record once; a compaction
 * that publishes its merged file and removes the merged ones between that listing and that read must
 * neither fail the unit nor let a record in twice. The race is made certain: the writer's storage runs a
 * whole compaction right after listing a partition, and hands back the listing from before it.
 */

const CSV = 'fixtures/pgaudit/pg15.csv';
const JSONLOG = 'fixtures/pgaudit/pg15.json';

/** A local lake whose first listing of an events partition is overtaken by a compaction. */
class CompactedWhileListed extends FsStorage {
  compactions = 0;
  override async list(prefix: string): Promise<string[]> {
    const keys = await super.list(prefix);
    if (this.compactions === 0 && prefix.startsWith('events/')) {
      const summary = await compactLake(new FsStorage(this.url), { targetBytes: 64 * 1024 * 1024, parquet: DEFAULT_PARQUET });
      this.compactions = summary.files_merged;
    }
    return keys;
  }
}

describe('a unit committing while a compaction merges the files it compares against', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    lake = await tempLake();
  });
  afterEach(() => lake.cleanup());

  it('reads what replaced them and stores every record once', async () => {
    // Small parts, so the partition has files to merge.
    await ingestInto(lake.dir, [CSV], 'auto', 4096);
    const n = (await collectFile(CSV)).events.length;

    const storage = new CompactedWhileListed(lake.dir);
    const writer = await LakeWriter.open(storage);
    let summary: Awaited<ReturnType<typeof ingestFiles>>;
    try {
      summary = await ingestFiles([JSONLOG], writer, {
        format: 'auto',
        batchSize: DEFAULT_BATCH_SIZE,
        collectorOptions: {},
        observers: [],
      });
    } finally {
      await writer.close();
      await storage.close();
    }
    expect(storage.compactions).toBeGreaterThan(1);
    expect(summary.inputs.map((i) => i.error ?? null)).toEqual([null]);
    // The jsonlog holds the csvlog's records: all of them were found, in the compacted file.
    expect(summary.duplicate_events).toBe(n);
    expect(summary.events).toBe(0);
    const { rows } = await queryLake(lake.dir, 'SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM audit_events');
    expect(rows[0]).toEqual({ n: String(n), d: String(n) });
  });
});
