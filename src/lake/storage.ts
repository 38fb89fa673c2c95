/**
 * Where the lake lives. One small interface with whole-object, atomic writes; the local filesystem
 * (`fs-storage.ts`) and S3 implement it, and nothing above it knows which one it has.
 * Keys are `/`-separated paths relative to the lake root, e.g. `events/source=pgaudit/...`.
 */
export interface Storage {
  /** The lake root as a user writes it: a folder path or `s3://bucket/prefix`. */
  readonly url: string;
  /** Stores a local file under `key`, atomically (readers see the old object or the new one). The local file is consumed. */
  putFile(key: string, localPath: string): Promise<void>;
  /** Stores bytes under `key`, atomically. */
  putBytes(key: string, body: Buffer | string): Promise<void>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<Buffer | null>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Keys under a prefix with their sizes in bytes, sorted by key. */
  listObjects(prefix: string): Promise<StoredObject[]>;
  /** Copies an object to a local file; false when there is no such object. Streams: memory does not grow with the object. */
  download(key: string, localPath: string): Promise<boolean>;
  /**
   * Moves an object to another key (replacing what is there); false when there is no object at `from`.
   * Local: one rename. S3: a server-side copy, then the source is deleted.
   */
  rename(from: string, to: string): Promise<boolean>;
  /** Removes an object; no error when it is absent. */
  delete(key: string): Promise<void>;
  /** A local path of `key` when the lake is a local folder, so DuckDB can read it in place; null otherwise. */
  localPath(key: string): string | null;
  /** A local directory for staging files before they are stored (on the same filesystem when local). */
  stagingDir(): Promise<string>;
  /**
   * Releases what the storage holds on this machine (an S3 lake's private staging folder, with any
   * DuckDB spill files in it). Whoever opened the storage closes it, after the writers using it.
   */
  close(): Promise<void>;
}

/** One stored object as listed. */
export interface StoredObject {
  key: string;
  size: number;
}
