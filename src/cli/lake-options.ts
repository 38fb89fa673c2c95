import { readdir, stat } from 'node:fs/promises';
import { FsStorage } from '../lake/fs-storage.js';
import { ALERTS_PREFIX, EVENTS_PREFIX, QUARANTINE_PREFIX, STATE_PREFIX } from '../lake/layout.js';
import { S3Storage, type S3StorageOptions } from '../lake/s3-storage.js';
import { isS3Url, parseS3Url } from '../lake/s3-url.js';
import type { Storage } from '../lake/storage.js';
import { UsageError } from './command.js';

/** Opens the lake a `--out` or `--lake` option names: a local folder, or `s3://bucket/prefix`. */
export function openStorage(url: string | undefined, option: string, s3Options: Partial<S3StorageOptions> = {}): Storage {
  if (!url) throw new UsageError(`${option} <dir> is required (a folder or s3://bucket/prefix)`);
  if (isS3Url(url)) {
    try {
      parseS3Url(url);
    } catch (e) {
      throw new UsageError(`${option} ${(e as Error).message}`, { cause: e });
    }
    return new S3Storage(url, s3Options);
  }
  return new FsStorage(url);
}

/** A lake's top-level folders: a folder holding none of them (and not empty) is not a lake. */
const LAKE_FOLDERS = [EVENTS_PREFIX, ALERTS_PREFIX, QUARANTINE_PREFIX, STATE_PREFIX].map((p) => p.replace(/\/$/, ''));

/** A `--lake` that names no lake: exit 1, naming the path. */
export class NoLakeError extends Error {}

/**
 * Opens an existing lake for a command that reads one (`query`, `sessions`, `hunt`, `compact`, `report`,
 * `verify`, ...). A mistyped path must not read as "0 rows": a missing folder, a file, or a folder with
 * other content but none of `events/ alerts/ _quarantine/ _state/` throws {@link NoLakeError} naming the
 * path. An empty folder is an empty lake and is fine. In S3 a prefix has no existence of its own, so one
 * with no lake objects under it is refused: an empty S3 lake and a mistyped prefix look the same.
 */
export async function openLakeForReading(
  url: string | undefined,
  option = '--lake',
  s3Options: Partial<S3StorageOptions> = {},
): Promise<Storage> {
  const storage = openStorage(url, option, s3Options);
  const where = `${option} ${url}`;
  if (storage.localPath('') === null) {
    for (const prefix of [EVENTS_PREFIX, STATE_PREFIX, ALERTS_PREFIX]) if ((await storage.list(prefix)).length > 0) return storage;
    throw new NoLakeError(`${where}: no lake there (no events/, alerts/ or _state/ objects under the prefix)`);
  }
  const dir = url as string;
  let entries: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new NoLakeError(`${where}: not a folder, so not a lake`);
    entries = (await readdir(dir)).filter((e) => !e.startsWith('.'));
  } catch (e) {
    if (e instanceof NoLakeError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new NoLakeError(`${where}: ${code === 'ENOENT' ? 'no such folder' : (e as Error).message}, so no lake there`, { cause: e });
  }
  if (entries.length > 0 && !entries.some((e) => LAKE_FOLDERS.includes(e)))
    throw new NoLakeError(`${where}: not a lake (none of ${LAKE_FOLDERS.map((f) => `${f}/`).join(' ')} in it)`);
  return storage;
}
