import type { Storage, StoredObject } from '../storage.js';
import { appendDigest } from './chain.js';
import { type DigestRecord, isCovered, type UnitCommit, type UnitKind, type WrittenObject } from './digest-record.js';
import { bytesDigest, type ContentDigest, fileDigest } from './file-digest.js';
import type { Signer } from './signers.js';

/**
 * A storage that notes what a unit stores and removes, with the SHA-256 and size of each object,
 * so the unit's digest can be appended when it commits (`commit`). Objects outside the covered
 * folders (checkpoints, journals) pass through unrecorded. Units of one writer are sequential: what
 * is recorded between two commits belongs to the unit being committed; `discard` forgets an aborted one.
 */
export class UnitRecorder implements Storage {
  private written = new Map<string, ContentDigest>();
  private removed = new Set<string>();

  constructor(
    readonly inner: Storage,
    readonly signer: Signer | null,
  ) {}

  get url(): string {
    return this.inner.url;
  }

  async putFile(key: string, localPath: string): Promise<void> {
    const digest = isCovered(key) ? await fileDigest(localPath) : null;
    await this.inner.putFile(key, localPath);
    if (digest) this.noteWrite(key, digest);
  }

  async putBytes(key: string, body: Buffer | string): Promise<void> {
    await this.inner.putBytes(key, body);
    if (isCovered(key)) this.noteWrite(key, bytesDigest(body));
  }

  async delete(key: string): Promise<void> {
    await this.inner.delete(key);
    if (isCovered(key)) {
      this.written.delete(key);
      this.removed.add(key);
    }
  }

  private noteWrite(key: string, digest: ContentDigest): void {
    this.removed.delete(key);
    this.written.set(key, digest);
  }

  /**
   * Appends the digest of everything recorded since the last commit and starts afresh. `files` gives
   * the rows of the Parquet files the unit wrote; `rows` is the unit's total; `removing` names objects
   * the unit removes after its commit point (a compaction's originals).
   */
  async commit(
    kind: UnitKind,
    unitId: string,
    rows: number,
    files: { key: string; rows: number }[] = [],
    removing: string[] = [],
  ): Promise<DigestRecord | null> {
    const rowsOf = new Map(files.map((f) => [f.key, f.rows]));
    const commit: UnitCommit = {
      unit_id: unitId,
      kind,
      committed_at: new Date().toISOString(),
      written: [...this.written].map(([key, d]): WrittenObject => ({ key, ...d, rows: rowsOf.get(key) })),
      removed: [...this.removed, ...removing],
      rows,
    };
    this.discard();
    return appendDigest(this.inner, commit, this.signer);
  }

  /** Forgets what was recorded (the unit was aborted; its stray objects will show as unexpected). */
  discard(): void {
    this.written = new Map();
    this.removed = new Set();
  }

  get(key: string): Promise<Buffer | null> {
    return this.inner.get(key);
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
  listObjects(prefix: string): Promise<StoredObject[]> {
    return this.inner.listObjects(prefix);
  }
  download(key: string, localPath: string): Promise<boolean> {
    return this.inner.download(key, localPath);
  }
  localPath(key: string): string | null {
    return this.inner.localPath(key);
  }
  stagingDir(): Promise<string> {
    return this.inner.stagingDir();
  }
}
