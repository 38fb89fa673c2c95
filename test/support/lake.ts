import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsStorage } from '../../src/lake/fs-storage.js';
import { LakeWriter } from '../../src/lake/lake-writer.js';
import { DEFAULT_PARQUET } from '../../src/lake/parquet-convert.js';
import { DEFAULT_BATCH_SIZE, ingestFiles } from '../../src/pipeline/ingest.js';
import type { RunSummary } from '../../src/pipeline/stats.js';

/** A lake in a fresh temporary folder. */
export async function tempLake(): Promise<{ dir: string; storage: FsStorage; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'auditlake-test-'));
  return { dir, storage: new FsStorage(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Ingests files into a lake folder the way the CLI does. */
export async function ingestInto(dir: string, paths: string[], format = 'auto', rollBytes?: number): Promise<RunSummary> {
  const lake = await LakeWriter.open(new FsStorage(dir), rollBytes ? { rollBytes, parquet: DEFAULT_PARQUET } : undefined);
  try {
    return await ingestFiles(paths, lake, { format, batchSize: DEFAULT_BATCH_SIZE, collectorOptions: {}, observers: [] });
  } finally {
    await lake.close();
  }
}
