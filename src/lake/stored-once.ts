import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { localCopy, readCompactedIndex, selectEvents, snapshotCopy } from './compacted-files.js';
import { eventsPartition, parsePartKey } from './layout.js';
import { type ParquetOptions, parquetCopyOptions, sqlString } from './parquet-convert.js';
import type { Storage } from './storage.js';
import type { LakeUnit, StagedObject } from './unit.js';

/**
 * Stored once: a record that carries its own identity (a csvlog/jsonlog session line, a DAS activity)
 * has the same event id in every input that holds it, e.g. a rotated log and its re-shipped copy, or
 * the csvlog and jsonlog of one server. Before an input commits, the rows of its pending Parquet files
 * whose ids are already stored in the same partition by another input are taken out (and counted, by
 * event class), so the lake holds each record once. Files of the same input (an earlier run it
 * replaces) and compacted files that hold its earlier events are not compared: the input's commit
 * replaces those. A local lake's files are hard-linked for the comparison (only their `event_id` column is
 * read); an S3 lake's files of the partitions an input writes are downloaded (see the README's cost note).
 */

/** Times a partition is listed again when a file listed vanished before it was copied. */
const RELISTS = 3;

/**
 * Private copies of a partition's files written by other inputs. A writer without the lock (the proxy,
 * the Lambda handlers) can run beside a compaction, which publishes its merged file and then removes the
 * files it merged: a listed file that is gone when copied was merged, so the partition is listed again
 * and read from what replaced it.
 */
async function storedFiles(
  storage: Storage,
  partition: string,
  inputKey: string,
  staging: string,
  copies: { done: () => Promise<void> }[],
): Promise<string[]> {
  for (let listing = 1; ; listing++) {
    const taken: { path: string; done: () => Promise<void> }[] = [];
    let vanished: string | null = null;
    for (const key of await storage.list(partition)) {
      const name = parsePartKey(key);
      if (!name || name.inputKey === inputKey) continue;
      if (name.compactionId && (await readCompactedIndex(storage, key))?.input_keys.includes(inputKey)) continue;
      const copy = await snapshotCopy(storage, key, staging);
      if (copy === null) {
        vanished = key;
        break;
      }
      taken.push(copy);
    }
    if (vanished === null) {
      copies.push(...taken);
      return taken.map((c) => c.path);
    }
    for (const c of taken) await c.done();
    if (listing === RELISTS) throw new Error(`${storage.url}: ${vanished} disappeared while ${partition} was read, ${RELISTS} times`);
  }
}

/** A pending Parquet file of an input. */
export interface PendingPart {
  date: string;
  part: number;
  staged: StagedObject;
}

/** Removes from `parts` the events already stored by other inputs; returns what was removed, by event class. */
export async function dropStoredEvents(
  unit: LakeUnit,
  duck: DuckDBConnection,
  staging: string,
  source: string,
  inputKey: string,
  parts: PendingPart[],
  options: ParquetOptions,
): Promise<{ parts: PendingPart[]; dropped: Record<string, number> }> {
  const storage = unit.storage;
  const dropped: Record<string, number> = {};
  const others = new Map<string, string[]>();
  const copies: { done: () => Promise<void> }[] = [];
  const kept: PendingPart[] = [];
  try {
    for (const p of parts) {
      const partition = eventsPartition(source, p.date);
      let files = others.get(partition);
      if (files === undefined) {
        files = await storedFiles(storage, partition, inputKey, staging, copies);
        others.set(partition, files);
      }
      if (files.length === 0) {
        kept.push(p);
        continue;
      }
      const pendingCopy = await localCopy(storage, p.staged.pending, staging);
      copies.push(pendingCopy);
      const local = pendingCopy.path;
      const stored = `SELECT event_id FROM read_parquet([${files.map(sqlString).join(', ')}])`;
      const counts = (
        await duck.runAndReadAll(
          `SELECT event_class AS c, count(*)::BIGINT AS n FROM read_parquet(${sqlString(local)}) WHERE event_id IN (${stored}) GROUP BY 1`,
        )
      ).getRowObjectsJson() as { c: string; n: string | number }[];
      const removed = counts.reduce((n, r) => n + Number(r.n), 0);
      if (removed === 0) {
        kept.push(p);
        continue;
      }
      for (const r of counts) dropped[r.c] = (dropped[r.c] ?? 0) + Number(r.n);
      if (removed < p.staged.rows) {
        const out = join(staging, `${randomUUID()}.parquet`);
        try {
          const select = `${selectEvents([local])} WHERE event_id NOT IN (${stored})`;
          const rows = Number((await duck.run(`COPY (${select}) TO ${sqlString(out)} ${parquetCopyOptions(options)}`)).rowsChanged);
          if (rows !== p.staged.rows - removed)
            throw new Error(`taking stored events out of ${p.staged.pending}: ${rows} rows left, expected ${p.staged.rows - removed}`);
          kept.push({ ...p, staged: await unit.stageFile(out, rows, `${p.date}-${p.part}-once.parquet`) });
        } finally {
          await rm(out, { force: true });
        }
      }
      await unit.discard(p.staged);
    }
  } finally {
    for (const c of copies) await c.done();
  }
  // Parts keep their numbers; a gap (a part whose events were all stored already) is harmless.
  return { parts: kept, dropped };
}
