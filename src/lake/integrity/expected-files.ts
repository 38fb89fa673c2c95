import { COVERED_PREFIXES, type DigestRecord } from './digest-record.js';
import { compareStrings, type ExternalSorter } from './external-sort.js';

/**
 * The files the digest chain says the lake holds, for `verify`, without holding them in memory:
 * replaying a digest adds one entry per removed and written key to an external sort, and reading
 * merges them by key, the last entry of each key winning (a digest's removals before its writes, as
 * the writer applies them). Entries come out by covered folder (in `COVERED_PREFIXES` order), then by
 * key: the order `verify` lists the storage in. Keys outside every covered folder come last.
 */

/** A file the chain names, as its last digest wrote it. */
export interface ExpectedFile {
  /** Index of its covered folder in `COVERED_PREFIXES`; their count for a key outside them. */
  folder: number;
  key: string;
  sha256: string;
  bytes: number;
  committedAt: string;
}

/** One replayed change: [folder, key, order of replay, sha256 (null: removed), bytes, committed_at]. */
export type Change = [number, string, number, string | null, number, string];

/** Orders changes by folder, key, then replay order. */
export function compareChanges(a: Change, b: Change): number {
  return a[0] - b[0] || compareStrings(a[1], b[1]) || a[2] - b[2];
}

/** The covered folder of a key, as an index into `COVERED_PREFIXES`; their count when none. */
export function folderOf(key: string): number {
  const i = COVERED_PREFIXES.findIndex((p) => key.startsWith(p));
  return i === -1 ? COVERED_PREFIXES.length : i;
}

/** Orders by folder, then key (as `compareStrings`). */
export function compareFolderKey(a: { folder: number; key: string }, b: { folder: number; key: string }): number {
  return a.folder - b.folder || compareStrings(a.key, b.key);
}

/** The replayed chain. */
export class ExpectedFiles {
  private order = 0;

  /** `changes`: an external sort by `compareChanges`. */
  constructor(private readonly changes: ExternalSorter<Change>) {}

  /** Applies one digest, after those before it. */
  async apply(record: DigestRecord): Promise<void> {
    for (const key of record.removed) await this.changes.add([folderOf(key), key, this.order++, null, 0, '']);
    for (const w of record.written) await this.changes.add([folderOf(w.key), w.key, this.order++, w.sha256, w.bytes, record.committed_at]);
  }

  /** The files the chain leaves, by folder then key; read once, after the last `apply`. */
  async *files(): AsyncGenerator<ExpectedFile> {
    let last: Change | null = null;
    for await (const change of this.changes.sorted()) {
      if (last !== null && last[1] !== change[1] && last[3] !== null) yield toFile(last);
      last = change;
    }
    if (last !== null && last[3] !== null) yield toFile(last);
  }
}

function toFile([folder, key, , sha256, bytes, committedAt]: Change): ExpectedFile {
  return { folder, key, sha256: sha256 ?? '', bytes, committedAt };
}
