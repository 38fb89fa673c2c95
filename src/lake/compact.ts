import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Source } from '../schema/index.js';
import { copyTo, indexBody, localCopy, readCompactedIndex, selectEvents } from './compacted-files.js';
import { type RecoveryResult, recoverCompactions } from './compaction-journal.js';
import { openDuckDb } from './duckdb.js';
import type { Signer } from './integrity/signers.js';
import { compactedIndexKey, compactedPartKey, EVENTS_PREFIX, eventsPartition, parsePartKey } from './layout.js';
import { type ParquetOptions, sqlString } from './parquet-convert.js';
import type { Storage, StoredObject } from './storage.js';
import { LakeUnit, recoverUnits, unitFault } from './unit.js';
import { type CommitHook, commitHooksFor } from './unit-commit.js';

/**
 * Compaction: per partition, Parquet files smaller than the target are merged with DuckDB into files
 * of about the target size, so Athena reads a few large files instead of many small ones. A
 * partition's compaction is one lake unit (`unit.ts`): its new files are published and the merged
 * ones removed by one commit, so it is safe to kill at any point.
 */

/** What to compact and how. */
export interface CompactOptions {
  /** Files smaller than this are merged, into files of about this size. */
  targetBytes: number;
  /** Only this `event_date`. */
  date?: string;
  /** Only this source. */
  source?: Source;
  parquet: ParquetOptions;
  /** Signs each compaction's digest; null or absent: chained but unsigned. */
  signer?: Signer | null;
}

export const DEFAULT_TARGET_BYTES = 256 * 1024 * 1024;

/** What a compaction run did. */
export interface CompactionSummary {
  recovered: RecoveryResult;
  partitions: number;
  partitions_compacted: number;
  files_merged: number;
  files_written: number;
  rows: number;
}

/** Groups small files into runs of about `target` bytes (in key order); runs of one file are left alone. */
export function planBins(objects: StoredObject[], target: number): StoredObject[][] {
  const small = objects.filter((o) => o.size < target).sort((a, b) => (a.key < b.key ? -1 : 1));
  const bins: StoredObject[][] = [];
  let bin: StoredObject[] = [];
  let size = 0;
  for (const o of small) {
    if (bin.length > 0 && size + o.size > target) {
      bins.push(bin);
      bin = [];
      size = 0;
    }
    bin.push(o);
    size += o.size;
  }
  bins.push(bin);
  return bins.filter((b) => b.length >= 2);
}

/** Rows in local Parquet files, from their footers. */
async function parquetRows(duck: DuckDBConnection, paths: string[]): Promise<number> {
  const r = await duck.runAndReadAll(`SELECT sum(num_rows)::BIGINT AS n FROM parquet_file_metadata([${paths.map(sqlString).join(', ')}])`);
  return Number(r.getRowObjectsJson()[0].n ?? 0);
}

/** Input keys of the events in a file: from its name, or a compacted file's index. */
async function inputKeysOf(storage: Storage, key: string): Promise<string[]> {
  const name = parsePartKey(key);
  if (name?.inputKey) return [name.inputKey];
  const index = await readCompactedIndex(storage, key);
  if (!index) throw new Error(`${key} is a compacted file without an index (${compactedIndexKey(key)})`);
  return index.input_keys;
}

/** Merges the bins of one partition as one unit of kind `compaction`; returns the rows moved. */
async function compactPartition(
  storage: Storage,
  duck: DuckDBConnection,
  staging: string,
  partition: string,
  bins: StoredObject[][],
  options: CompactOptions,
  hooks: readonly CommitHook[],
) {
  const merged = bins.flat().map((o) => o.key);
  const id = createHash('sha256').update(merged.sort().join('\n')).digest('hex').slice(0, 16);
  const unit = new LakeUnit(storage, 'compaction', hooks);
  let rows = 0;
  let written = 0;
  try {
    for (const [n, bin] of bins.entries()) {
      const copies = [];
      const inputKeys = new Set<string>();
      for (const o of bin) {
        copies.push(await localCopy(storage, o.key, staging));
        for (const k of await inputKeysOf(storage, o.key)) inputKeys.add(k);
        unit.remove(o.key);
        if (parsePartKey(o.key)?.compactionId) unit.remove(compactedIndexKey(o.key));
      }
      const paths = copies.map((c) => c.path);
      const key = compactedPartKey(partition, id, n);
      const local = join(staging, `${key.replaceAll('/', '_')}`);
      try {
        const before = await parquetRows(duck, paths);
        const count = Number(
          (await duck.run(copyTo(`${selectEvents(paths)} ORDER BY event_time, event_id`, local, options.parquet))).rowsChanged,
        );
        const after = await parquetRows(duck, [local]);
        if (count !== before || after !== before)
          throw new Error(`compacting ${partition}: ${before} rows in, ${count} written, ${after} in the new file`);
        await unit.putFile(key, local, after);
        await unit.putBytes(compactedIndexKey(key), indexBody({ file: key, rows: after, input_keys: [...inputKeys] }));
        rows += after;
        written++;
      } finally {
        for (const c of copies) await c.done();
        await rm(local, { force: true });
      }
    }
    unitFault('compaction-staged');
    await unit.commit();
  } catch (e) {
    await unit.abort();
    throw e;
  }
  return { merged: merged.length, written, rows };
}

/** Compacts the lake's events (optionally one source and/or date), after finishing any interrupted compaction. */
export async function compactLake(storage: Storage, options: CompactOptions): Promise<CompactionSummary> {
  const hooks = commitHooksFor(storage, options.signer ?? null);
  const old = await recoverCompactions(storage, options.signer ?? null);
  const units = await recoverUnits(storage, hooks);
  const recovered = { rolledForward: old.rolledForward + units.rolledForward, rolledBack: old.rolledBack + units.discarded };
  const prefix = options.source
    ? options.date
      ? eventsPartition(options.source, options.date)
      : `${EVENTS_PREFIX}source=${options.source}/`
    : EVENTS_PREFIX;
  const byPartition = new Map<string, StoredObject[]>();
  for (const o of await storage.listObjects(prefix)) {
    const name = parsePartKey(o.key);
    if (!name || (options.date && !name.partition.endsWith(`/event_date=${options.date}/`))) continue;
    byPartition.set(name.partition, [...(byPartition.get(name.partition) ?? []), o]);
  }
  const summary: CompactionSummary = {
    recovered,
    partitions: byPartition.size,
    partitions_compacted: 0,
    files_merged: 0,
    files_written: 0,
    rows: 0,
  };
  const staging = await storage.stagingDir();
  const duck = await openDuckDb({ memoryLimit: '512MB', threads: 2, tempDirectory: staging });
  try {
    for (const [partition, objects] of [...byPartition].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const bins = planBins(objects, options.targetBytes);
      if (bins.length === 0) continue;
      const done = await compactPartition(storage, duck, staging, partition, bins, options, hooks);
      summary.partitions_compacted++;
      summary.files_merged += done.merged;
      summary.files_written += done.written;
      summary.rows += done.rows;
    }
  } finally {
    duck.closeSync();
  }
  return summary;
}
