import { FsStorage } from '../lake/fs-storage.js';
import type { Storage } from '../lake/storage.js';
import { UsageError } from './command.js';

/** Opens the lake a `--out` or `--lake` option names. */
export function openStorage(url: string | undefined, option: string): Storage {
  if (!url) throw new UsageError(`${option} <dir> is required`);
  if (url.startsWith('s3://')) throw new UsageError(`${option} ${url}: S3 lakes are not supported by this build yet; use a local folder`);
  return new FsStorage(url);
}
