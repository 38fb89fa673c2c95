import type { Dir } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { S3Storage } from '../s3-storage.js';
import type { Storage, StoredObject } from '../storage.js';

/**
 * The objects under a folder of the lake, one at a time, for `verify`: memory does not grow with
 * their number (unlike `Storage.list`, which returns them all, sorted). A local lake is walked with
 * `opendir` (entries read a few at a time, names only: size -1, as a stat per file costs more than
 * reading a small one), in directory order, skipping `.tmp` names as `FsStorage` does; S3 is listed a
 * page (1000 keys) at a time, with sizes, in key order; any other storage through `listObjects`.
 */
export async function* listStored(storage: Storage, prefix: string): AsyncGenerator<StoredObject> {
  if (!prefix.endsWith('/')) throw new Error(`listStored lists folders: ${prefix}`);
  const root = storage.localPath('');
  if (root !== null) {
    yield* walk(storage.localPath(prefix) ?? '', prefix);
    return;
  }
  if (storage instanceof S3Storage) {
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const client = await storage.client();
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: storage.bucket, Prefix: storage.prefix + prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key) yield { key: o.Key.slice(storage.prefix.length), size: o.Size ?? 0 };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return;
  }
  yield* await storage.listObjects(prefix);
}

/** Files under a local folder, depth first; a folder that vanishes while walked is empty. */
async function* walk(dir: string, keyPrefix: string): AsyncGenerator<StoredObject> {
  let handle: Dir;
  try {
    handle = await opendir(dir, { bufferSize: 64 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  // The async iterator closes the handle when the loop ends, also on an early return or an error.
  for await (const entry of handle) {
    if (entry.isDirectory()) yield* walk(join(dir, entry.name), `${keyPrefix}${entry.name}/`);
    else if (!entry.name.endsWith('.tmp')) yield { key: `${keyPrefix}${entry.name}`, size: -1 };
  }
}
