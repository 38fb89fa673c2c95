import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isNotFound, S3Storage } from '../s3-storage.js';
import type { Storage } from '../storage.js';

/** SHA-256 (hex) and size of some bytes. */
export interface ContentDigest {
  sha256: string;
  bytes: number;
}

/** SHA-256 of bytes, as lowercase hex. */
export function sha256Hex(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Digest of bytes in memory. */
export function bytesDigest(body: Buffer | string): ContentDigest {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return { sha256: sha256Hex(bytes), bytes: bytes.length };
}

/** Digest of a stream, read once in chunks: memory does not grow with its size. */
export async function streamDigest(stream: AsyncIterable<Buffer | Uint8Array>): Promise<ContentDigest> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Files up to this size are read whole: one read instead of a stream's machinery (most lake files of a small unit). */
const READ_WHOLE_BYTES = 4 * 1024 * 1024;

/** Digest of a local file: read whole when `sizeHint` says it is small, else streamed in 1 MiB chunks. */
export async function fileDigest(path: string, sizeHint?: number): Promise<ContentDigest> {
  const size = sizeHint ?? (await stat(path)).size;
  if (size <= READ_WHOLE_BYTES) return bytesDigest(await readFile(path));
  return streamDigest(createReadStream(path, { highWaterMark: 1024 * 1024 }));
}

/**
 * Digest of a stored object, streamed from where it lives (a local lake's file, an S3 object's body;
 * any other storage through a temporary copy); null when the object is not there.
 */
export async function storedDigest(storage: Storage, key: string, sizeHint?: number): Promise<ContentDigest | null> {
  const local = storage.localPath(key);
  if (local !== null) {
    try {
      return await fileDigest(local, sizeHint);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }
  if (storage instanceof S3Storage) {
    try {
      const { GetObjectCommand } = await import('@aws-sdk/client-s3');
      const out = await (await storage.client()).send(new GetObjectCommand({ Bucket: storage.bucket, Key: storage.prefix + key }));
      return await streamDigest(out.Body as Readable);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }
  const dir = await mkdtemp(join(tmpdir(), 'auditlake-digest-'));
  try {
    const path = join(dir, 'object');
    return (await storage.download(key, path)) ? await fileDigest(path) : null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
