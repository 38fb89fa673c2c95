import { randomUUID } from 'node:crypto';
import { link, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FsStorage } from '../fs-storage.js';
import { makeDir } from '../make-dir.js';
import { S3Storage } from '../s3-storage.js';
import type { Storage } from '../storage.js';

/**
 * Stores `body` under `key` only when no object is there yet, atomically; false when one is. This is
 * what keeps two writers that race for the same digest number from overwriting each other: a local
 * lake links a finished temporary file into place (link(2) fails on an existing name), S3 uses a
 * conditional PutObject (`If-None-Match: *`, answered 412 when the key exists). Any other storage
 * falls back to look-then-write, safe only for a single writer.
 */
export async function putIfAbsent(storage: Storage, key: string, body: Buffer): Promise<boolean> {
  const local = storage.localPath(key);
  if (local !== null) {
    // A digest names the lake's files: it gets the mode the lake's own files get (0600 by default).
    const mode = storage instanceof FsStorage ? storage.fileMode : 0o600;
    await makeDir(dirname(local), mode | ((mode & 0o444) >> 2));
    const temp = `${local}.${randomUUID()}.tmp`;
    await writeFile(temp, body, { mode });
    try {
      await link(temp, local);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    } finally {
      await rm(temp, { force: true });
    }
  }
  if (storage instanceof S3Storage) {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const client = await storage.client();
    const sse = storage.options.sseKmsKeyId
      ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: storage.options.sseKmsKeyId }
      : { ServerSideEncryption: 'AES256' as const };
    try {
      await client.send(new PutObjectCommand({ Bucket: storage.bucket, Key: storage.prefix + key, Body: body, IfNoneMatch: '*', ...sse }));
      return true;
    } catch (e) {
      // 412: the key exists; 409: a concurrent conditional write to it is in flight.
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return false;
      throw e;
    }
  }
  if (await storage.get(key)) return false;
  await storage.putBytes(key, body);
  return true;
}
