import { randomUUID } from 'node:crypto';
import { type FileHandle, open, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Text buffered in memory before one write to the staged file. */
const WRITE_CHUNK_CHARS = 1 << 20;

/**
 * A local append-only file that rows are staged into: written in ~1 MiB chunks with one awaited write
 * each, so memory holds one chunk per open file whatever the input's size.
 */
export class StagedFile {
  private pending: string[] = [];
  private pendingChars = 0;
  rows = 0;
  bytes = 0;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /** A new empty staged file in `dir`. */
  static async create(dir: string, suffix: string): Promise<StagedFile> {
    const path = join(dir, `${randomUUID()}${suffix}`);
    return new StagedFile(path, await open(path, 'w'));
  }

  /**
   * Buffers one row (a line with its newline). Returns true when the buffer is full and the caller
   * must `await drain()`: no promise per row on the hot path.
   */
  add(row: string): boolean {
    this.pending.push(row);
    this.pendingChars += row.length;
    this.rows++;
    return this.pendingChars >= WRITE_CHUNK_CHARS;
  }

  /** Appends one row and writes when the buffer is full. */
  async append(row: string): Promise<void> {
    if (this.add(row)) await this.drain();
  }

  /** Approximate size: bytes written plus characters buffered. */
  get size(): number {
    return this.bytes + this.pendingChars;
  }

  /** Writes the buffered rows. */
  async drain(): Promise<void> {
    if (this.pending.length === 0) return;
    const buf = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingChars = 0;
    await this.handle.write(buf);
    this.bytes += buf.length;
  }

  /** Writes what is buffered and closes the file; the path stays for the caller to consume. */
  async close(): Promise<void> {
    await this.drain();
    await this.handle.close();
  }

  /** Closes and removes the file. */
  async discard(): Promise<void> {
    await this.handle.close().catch(() => {});
    await rm(this.path, { force: true });
  }
}
