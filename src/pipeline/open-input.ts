import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { idKey } from '../schema/index.js';

/**
 * Opens an input as a stream of decompressed bytes, with what format detection needs taken from its
 * first bytes (the head text), and its identity computed while it is read: the SHA-256 of every
 * decompressed byte, known once the input has been read to its end (`contentSha256()`). That whole-content
 * hash names the input's files and manifest, so two inputs that differ anywhere never share files.
 * The head's hash (`key`) still seeds the event ids of formats whose records carry no identity of their
 * own (RDS stderr without `%c`/`%l`, CloudWatch payloads), since ids are assigned while reading. A gzip stream is
 * recognized by its magic bytes, not its name. A stream that fails midway (a gzip file that ends
 * early) ends the iteration normally and leaves the error in `failure`, so what was read before it
 * is still written and the failure is quarantined with its position.
 */

/** Bytes hashed into the fingerprint and offered to format detection. */
export const HEAD_BYTES = 64 * 1024;
const READ_CHUNK = 1024 * 1024;

/** An opened input. */
export interface OpenedInput {
  name: string;
  /** Decompressed first bytes as text, for format detection. */
  head: string;
  /** Id key from the fingerprint (first 64 KiB of content): seeds event ids of records with no identity of their own. */
  key: string;
  /** Hex SHA-256 of the first 64 KiB of decompressed content. */
  fingerprint: string;
  /** Hex SHA-256 of the whole decompressed content read; complete once `bytes` has been read to its end. */
  contentSha256(): string;
  /** Decompressed bytes read so far (0 for an empty input once read). */
  contentBytes(): number;
  gzip: boolean;
  /** Size on disk, for progress. */
  size: number;
  /** Compressed bytes read so far, for progress. */
  bytesRead(): number;
  /** The whole decompressed content, head included; iterate once. */
  bytes: AsyncIterable<Buffer>;
  /** Set when the stream failed after it was opened (e.g. truncated gzip). */
  failure: { message: string; offset: number } | null;
}

/** Wraps a readable so errors end the iteration and are kept on `holder.failure`. */
async function* guarded(first: Buffer[], rest: AsyncIterator<Buffer>, holder: Holder) {
  for (const chunk of first) {
    holder.offset += chunk.length;
    holder.hash.update(chunk);
    yield chunk;
  }
  for (;;) {
    let next: IteratorResult<Buffer>;
    try {
      next = await rest.next();
    } catch (e) {
      holder.failure = { message: (e as Error).message, offset: holder.offset };
      return;
    }
    if (next.done) return;
    holder.offset += next.value.length;
    holder.hash.update(next.value);
    yield next.value;
  }
}

/** What reading an input accumulates: where a failure happened, and the content hash. */
interface Holder {
  failure: OpenedInput['failure'];
  offset: number;
  hash: Hash;
  digest: string | null;
}

/** Opens a stream (a file's, an S3 object's) the same way. */
export async function openStream(name: string, raw: Readable, size: number): Promise<OpenedInput> {
  let compressedRead = 0;
  raw.on('data', (c: Buffer) => {
    compressedRead += c.length;
  });
  // Peek at the magic bytes without losing them.
  const rawIterator = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const firstRaw = await rawIterator.next().catch((e: Error) => {
    throw new Error(`cannot read ${name}: ${e.message}`, { cause: e });
  });
  const firstBytes = firstRaw.done ? Buffer.alloc(0) : firstRaw.value;
  const gzip = firstBytes.length >= 2 && firstBytes[0] === 0x1f && firstBytes[1] === 0x8b;
  async function* rawAgain() {
    if (firstBytes.length) yield firstBytes;
    for (;;) {
      const n = await rawIterator.next();
      if (n.done) return;
      yield n.value;
    }
  }
  let source: AsyncIterator<Buffer>;
  if (gzip) {
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    // pipeline() closes the file when the gzip stream fails (a truncated input) instead of leaving a
    // pump waiting forever for a 'drain' that will not come; the error reaches the reader below.
    pipeline(Readable.from(rawAgain()), gunzip, () => {});
    source = gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  } else {
    source = rawAgain();
  }
  const holder: Holder = { failure: null, offset: 0, hash: createHash('sha256'), digest: null };
  const head: Buffer[] = [];
  let headSize = 0;
  while (headSize < HEAD_BYTES) {
    let next: IteratorResult<Buffer>;
    try {
      next = await source.next();
    } catch (e) {
      holder.failure = { message: (e as Error).message, offset: headSize };
      break;
    }
    if (next.done) break;
    head.push(next.value);
    headSize += next.value.length;
  }
  const headBuf = Buffer.concat(head).subarray(0, HEAD_BYTES);
  const fingerprint = createHash('sha256').update(headBuf).digest('hex');
  const iterator = holder.failure ? (async function* () {})() : source;
  const bytes = guarded(head, iterator as AsyncIterator<Buffer>, holder);
  return {
    name,
    head: headBuf.toString('utf8'),
    key: idKey(fingerprint),
    fingerprint,
    gzip,
    size,
    bytesRead: () => compressedRead,
    bytes,
    contentSha256() {
      holder.digest ??= holder.hash.digest('hex');
      return holder.digest;
    },
    contentBytes: () => holder.offset,
    get failure() {
      return holder.failure;
    },
  };
}

/** Opens a local file. Throws a one-line error naming it when it cannot be opened. */
export async function openFile(path: string): Promise<OpenedInput> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error('not a regular file');
    size = s.size;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot open ${path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, { cause: e });
  }
  return openStream(path, createReadStream(path, { highWaterMark: READ_CHUNK }), size);
}
