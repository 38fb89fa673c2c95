import { randomUUID } from 'node:crypto';
import { copyFile, link, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { z } from 'zod';
import { EVENT_FIELDS } from '../schema/index.js';
import { compactedIndexKey, compactedIndexPrefix, parsePartKey } from './layout.js';
import { type ParquetOptions, parquetCopyOptions, sqlString } from './parquet-convert.js';
import { readState } from './state.js';
import type { Storage } from './storage.js';
import type { LakeUnit } from './unit.js';

/**
 * Compacted files and re-ingest. A compacted file (`part-c<id>-<n>.parquet`) holds the events of
 * several inputs; its index (`_state/compacted/<same path>.json`) names them. When one of those inputs
 * is ingested again, its fresh files are written as usual and its events are then removed from every
 * compacted file of the partitions it wrote, so each event is still in the lake once.
 */

/** The index of one compacted file, as stored. Unknown keys are kept, so a newer writer's fields survive a rewrite. */
export const compactedIndexSchema = z.looseObject({
  file: z.string().min(1),
  rows: z.number().int().nonnegative(),
  /** Keys of the inputs whose events the file holds. */
  input_keys: z.array(z.string()),
});

/** The index of one compacted file. */
export type CompactedIndex = z.infer<typeof compactedIndexSchema>;

/** Reads a compacted file's index; null when it has none. */
export function readCompactedIndex(storage: Storage, partKey: string): Promise<CompactedIndex | null> {
  return readState(storage, compactedIndexKey(partKey), compactedIndexSchema);
}

/** Serializes an index. */
export function indexBody(index: CompactedIndex): string {
  return `${JSON.stringify({ ...index, input_keys: [...index.input_keys].sort() }, null, 2)}\n`;
}

/**
 * A private copy of a stored object for DuckDB to read, or null when the object is gone: a hard link in a
 * local lake (as cheap as reading in place, and a later removal or replacement of the key leaves it
 * whole: writers without the lock, the proxy's units, run beside a compaction that removes what it merged),
 * a plain copy where the filesystem has no links, a download from S3.
 */
export async function snapshotCopy(
  storage: Storage,
  key: string,
  dir: string,
): Promise<{ path: string; done: () => Promise<void> } | null> {
  const path = join(dir, `${randomUUID()}.parquet`);
  const done = () => rm(path, { force: true });
  const local = storage.localPath(key);
  try {
    if (local === null) return (await storage.download(key, path)) ? { path, done } : null;
    await link(local, path).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EXDEV' || e.code === 'EPERM' || e.code === 'ENOTSUP') return copyFile(local, path);
      throw e;
    });
    return { path, done };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** `snapshotCopy` of an object that must be there. */
export async function localCopy(storage: Storage, key: string, dir: string): Promise<{ path: string; done: () => Promise<void> }> {
  const copy = await snapshotCopy(storage, key, dir);
  if (copy === null) throw new Error(`${storage.url}: ${key} disappeared while it was being read`);
  return copy;
}

/** DuckDB `read_parquet` of local files, columns in the declared order. */
export function selectEvents(paths: string[]): string {
  const columns = EVENT_FIELDS.map((f) => `"${f.name}"`).join(', ');
  return `SELECT ${columns} FROM read_parquet([${paths.map(sqlString).join(', ')}], union_by_name = true)`;
}

/** `COPY ... TO` with the lake's Parquet options. */
export function copyTo(select: string, path: string, options: ParquetOptions): string {
  return `COPY (${select}) TO ${sqlString(path)} ${parquetCopyOptions(options)}`;
}

/**
 * Removes the events of a re-ingested input from the compacted files of the partitions it is being
 * written to, inside the input's unit. `fresh` are the input's new files (pending keys, and the keys
 * they are published under); the rows removed are exactly those whose `event_id` is in them (ids are
 * deterministic, so they are the events of the earlier run). Each compacted file's replacement (or
 * removal, when nothing is left) and its updated index are published with the input's unit, so the
 * lake holds every event once whether or not the unit commits.
 */
export async function removeInputFromCompacted(
  unit: LakeUnit,
  duck: DuckDBConnection,
  stagingDir: string,
  inputKey: string,
  fresh: { pending: string; key: string }[],
  options: ParquetOptions,
): Promise<number> {
  const storage = unit.storage;
  const byPartition = new Map<string, string[]>();
  for (const f of fresh) {
    const name = parsePartKey(f.key);
    if (name) byPartition.set(name.partition, [...(byPartition.get(name.partition) ?? []), f.pending]);
  }
  let removed = 0;
  for (const [partition, pending] of byPartition) {
    const indexes = (await storage.list(compactedIndexPrefix(partition))).filter((k) => k.endsWith('.json'));
    for (const indexKey of indexes) {
      const index = await readState(storage, indexKey, compactedIndexSchema);
      if (!index?.input_keys.includes(inputKey)) continue;
      removed += await rewriteWithout(unit, duck, stagingDir, index, pending, inputKey, options);
    }
  }
  return removed;
}

async function rewriteWithout(
  unit: LakeUnit,
  duck: DuckDBConnection,
  stagingDir: string,
  index: CompactedIndex,
  fresh: string[],
  inputKey: string,
  options: ParquetOptions,
): Promise<number> {
  const storage = unit.storage;
  const copies = [await localCopy(storage, index.file, stagingDir)];
  try {
    for (const key of fresh) copies.push(await localCopy(storage, key, stagingDir));
    const [compacted, ...freshPaths] = copies.map((c) => c.path);
    const out = join(stagingDir, `${randomUUID()}.parquet`);
    const select = `${selectEvents([compacted])} WHERE event_id NOT IN (SELECT event_id FROM read_parquet([${freshPaths.map(sqlString).join(', ')}]))`;
    const rows = Number((await duck.run(copyTo(select, out, options))).rowsChanged);
    const left = { ...index, rows, input_keys: index.input_keys.filter((k) => k !== inputKey) };
    if (rows === index.rows) {
      // None of its events were there after all: only the index was out of date.
      await rm(out, { force: true });
      await unit.putBytes(compactedIndexKey(index.file), indexBody(left));
    } else if (rows === 0) {
      await rm(out, { force: true });
      unit.remove(index.file);
      unit.remove(compactedIndexKey(index.file));
    } else {
      await unit.putFile(index.file, out, rows);
      await unit.putBytes(compactedIndexKey(index.file), indexBody(left));
    }
    return index.rows - rows;
  } finally {
    for (const c of copies) await c.done();
  }
}
