import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Storage } from './storage.js';

/**
 * The commit record of a lake unit: the one place where an input, a stream flush, a compaction or an
 * alerts write becomes visible. It names every object the unit published (with its SHA-256, size and
 * rows) and every object it removed. It is the body of the unit's roll-forward journal
 * (`unit-journal.ts`), and every {@link CommitHook} (e.g. the lake's digest chain) receives it once the
 * unit is committed.
 */

/** What kind of work a unit is. */
export type UnitKind = 'ingest' | 'stream' | 'compaction' | 'alerts';

/** One object a unit published. */
export interface WrittenObject {
  /** Key under the lake root, e.g. `events/source=pgaudit/event_date=2026-11-28/part-....parquet`. */
  key: string;
  /** Hex SHA-256 of the object's bytes. */
  sha256: string;
  bytes: number;
  /** Rows it holds (Parquet rows, quarantine lines; 0 for indexes). */
  rows: number;
}

/** The commit record of one unit. */
export interface UnitCommit {
  /** Unique per attempt: `<UTC yyyymmddThhmmss>-<host hash>-<pid>-<random>`. */
  unit_id: string;
  kind: UnitKind;
  /** ISO-8601 UTC time of the commit point (the journal being stored). */
  committed_at: string;
  written: WrittenObject[];
  /** Keys the unit removed (files of an earlier run of the same input, files a compaction merged). */
  removed: string[];
  /** Rows in `written` Parquet files (events or alerts). */
  rows: number;
}

/**
 * Called once a unit is committed, before its journal is removed; when a process dies before every hook
 * returned, the next writer replays the journal and calls the hooks again with the same record, so a
 * hook must be idempotent on `unit_id`.
 */
export type CommitHook = (record: UnitCommit, storage: Storage) => Promise<void>;

/** The hooks every unit of a lake commits through (the integrity chain adds its own here). */
export function commitHooksFor(_storage: Storage): CommitHook[] {
  return [];
}

/** SHA-256 (hex) and size of a local file, read in 1 MiB chunks. */
export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const file = await open(path, 'r');
  const buffer = Buffer.allocUnsafe(1 << 20);
  let bytes = 0;
  try {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await file.close();
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** SHA-256 (hex) and size of bytes in memory. */
export function sha256Bytes(body: Buffer | string): { sha256: string; bytes: number } {
  const buffer = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return { sha256: createHash('sha256').update(buffer).digest('hex'), bytes: buffer.length };
}
