import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { type CompactedIndex, copyTo, indexBody, localCopy, readCompactedIndex, selectEvents } from './compacted-files.js';
import { type CompactionJournal, faultPoint, type RecoveryResult, recoverCompactions, writeJournal } from './compaction-journal.js';
import { openDuckDb } from './duckdb.js';
import type { Signer } from './integrity/signers.js';
import { UnitRecorder } from './integrity/unit-recorder.js';
import {
  compactedIndexKey,
  compactedIndexPrefix,
  compactedPartKey,
  compactionJournalKey,
  EVENTS_PREFIX,
  eventsPartition,
  parsePartKey,
} from './layout.js';
import { type ParquetOptions, sqlString } from './parquet-convert.js';
import type { Storage, StoredObject } from './storage.js';

/**
 * Compaction: per partition, Parquet files smaller than the target are merged with DuckDB into files
 * of about the target size, so Athena reads a few large files instead of many small ones. The
 * journal (`compaction-journal.ts`) makes it safe to kill at any point.
 */

/** What to compact and how. */
export interface CompactOptions {
  /** Files smaller than this are merged, into files of about this size. */
  targetBytes: number;
  /** Only this `event_date`. */
  date?: string;
  /** Only this source. */
  source?: string;
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

interface PlannedFile {
  key: string;
  local: string;
  index: CompactedIndex;
}

/** Merges the bins of one partition under a journal; returns the rows moved. */
async function compactPartition(
  storage: Storage,
  duck: DuckDBConnection,
  staging: string,
  partition: string,
  bins: StoredObject[][],
  options: CompactOptions,
) {
  const merged = bins.flat().map((o) => o.key);
  const id = createHash('sha256').update(merged.sort().join('\n')).digest('hex').slice(0, 16);
  const planned: PlannedFile[] = [];
  const old: string[] = [];
  let rows = 0;
  try {
    for (const [n, bin] of bins.entries()) {
      const copies = [];
      const inputKeys = new Set<string>();
      for (const o of bin) {
        copies.push(await localCopy(storage, o.key, staging));
        for (const k of await inputKeysOf(storage, o.key)) inputKeys.add(k);
        old.push(o.key);
        if (parsePartKey(o.key)?.compactionId) old.push(compactedIndexKey(o.key));
      }
      const paths = copies.map((c) => c.path);
      const key = compactedPartKey(partition, id, n);
      const local = join(staging, `${key.replaceAll('/', '_')}`);
      try {
        const before = await parquetRows(duck, paths);
        const written = Number(
          (await duck.run(copyTo(`${selectEvents(paths)} ORDER BY event_time, event_id`, local, options.parquet))).rowsChanged,
        );
        const after = await parquetRows(duck, [local]);
        if (written !== before || after !== before)
          throw new Error(`compacting ${partition}: ${before} rows in, ${written} written, ${after} in the new file`);
        planned.push({ key, local, index: { file: key, rows: after, input_keys: [...inputKeys] } });
        rows += after;
      } finally {
        for (const c of copies) await c.done();
      }
    }
    const journal: CompactionJournal = {
      id,
      partition,
      state: 'pending',
      new: planned.flatMap((p) => [p.key, compactedIndexKey(p.key)]),
      old,
      rows,
      created: new Date().toISOString(),
    };
    await writeJournal(storage, journal);
    faultPoint('journal');
    const recorder = new UnitRecorder(storage, options.signer ?? null);
    for (const p of planned) {
      await recorder.putFile(p.key, p.local);
      await recorder.putBytes(compactedIndexKey(p.key), indexBody(p.index));
      faultPoint('stored-1');
    }
    const stored = new Set((await storage.list(partition)).concat(await storage.list(compactedIndexPrefix(partition))));
    const missing = journal.new.filter((k) => !stored.has(k));
    if (missing.length) throw new Error(`compacting ${partition}: ${missing.join(', ')} not found after storing`);
    faultPoint('stored');
    await writeJournal(storage, { ...journal, state: 'committed' });
    faultPoint('committed');
    // The digest is the compaction's commit in the chain; recovery appends it when a kill came first.
    await recorder.commit(
      'compaction',
      id,
      rows,
      planned.map((p) => ({ key: p.key, rows: p.index.rows })),
      old,
    );
    faultPoint('digested');
    for (const k of old) {
      await storage.delete(k);
      faultPoint('deleted-1');
    }
    faultPoint('deleted');
    await storage.delete(compactionJournalKey(id));
  } finally {
    for (const p of planned) await rm(p.local, { force: true });
  }
  return { merged: merged.length, written: planned.length, rows };
}

/** Compacts the lake's events (optionally one source and/or date), after finishing any interrupted compaction. */
export async function compactLake(storage: Storage, options: CompactOptions): Promise<CompactionSummary> {
  const recovered = await recoverCompactions(storage, options.signer ?? null);
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
      const done = await compactPartition(storage, duck, staging, partition, bins, options);
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
