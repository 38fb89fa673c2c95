import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryLake } from '../../src/cli/commands/query.js';
import { FsStorage } from '../../src/lake/fs-storage.js';
import { DEFAULT_LAKE_WRITER, LakeWriter } from '../../src/lake/lake-writer.js';
import { DEFAULT_BATCH_SIZE, ingestFiles } from '../../src/pipeline/ingest.js';
import { EVENT_FIELDS } from '../../src/schema/index.js';
import { tempLake } from '../support/lake.js';

/**
 * The second way events reach DuckDB (`AUDITLAKE_WRITER=append`: columns through DuckDB's appender
 * instead of staged CSV text) must store exactly what the staged CSV stores: the pgAudit fixtures of every format
 * through both writers, with parts rolled small so both write several files, compared row for row.
 */

const INPUTS = [
  'fixtures/pgaudit/pg15.csv',
  'fixtures/pgaudit/pg13.csv',
  'fixtures/pgaudit/pg15-rds.log',
  'fixtures/pgaudit/pg15-rds.cloudwatch.json',
];

async function ingestWith(dir: string, writer: 'csv' | 'append') {
  const lake = await LakeWriter.open(new FsStorage(dir), { ...DEFAULT_LAKE_WRITER, rollBytes: 16 * 1024, writer });
  try {
    return await ingestFiles(INPUTS, lake, { format: 'auto', batchSize: DEFAULT_BATCH_SIZE, collectorOptions: {}, observers: [] });
  } finally {
    await lake.close();
  }
}

describe('the append writer', () => {
  let csv: Awaited<ReturnType<typeof tempLake>>;
  let append: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    csv = await tempLake();
    append = await tempLake();
  });
  afterEach(async () => {
    await csv.cleanup();
    await append.cleanup();
  });

  it('stores the same rows as the staged CSV, rolled into several files', async () => {
    const a = await ingestWith(csv.dir, 'csv');
    const b = await ingestWith(append.dir, 'append');
    expect(b.events).toBe(a.events);
    // Both roll parts at the roll size (measured on the staged text, so the counts are close, not equal).
    expect(a.files_written).toBeGreaterThan(INPUTS.length);
    expect(b.files_written).toBeGreaterThan(INPUTS.length);
    // Everything but ingest_time (the time of each run) is compared.
    const columns = EVENT_FIELDS.filter((f) => f.name !== 'ingest_time')
      .map((f) => `CAST(to_json("${f.name}") AS VARCHAR)`)
      .join(' || chr(31) || ');
    const rows = async (dir: string) =>
      (await queryLake(dir, `SELECT ${columns} AS r FROM audit_events ORDER BY 1`)).rows.map((r) => (r as { r: string }).r);
    const fromCsv = await rows(csv.dir);
    expect(fromCsv.length).toBe(a.events);
    expect(await rows(append.dir)).toEqual(fromCsv);
  });
});
