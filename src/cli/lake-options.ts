import { FsStorage } from '../lake/fs-storage.js';
import { isS3Url, parseS3Url, S3Storage, type S3StorageOptions } from '../lake/s3-storage.js';
import type { Storage } from '../lake/storage.js';
import { UsageError } from './command.js';

/** Opens the lake a `--out` or `--lake` option names: a local folder, or `s3://bucket/prefix`. */
export function openStorage(url: string | undefined, option: string, s3Options: Partial<S3StorageOptions> = {}): Storage {
  if (!url) throw new UsageError(`${option} <dir> is required (a folder or s3://bucket/prefix)`);
  if (isS3Url(url)) {
    try {
      parseS3Url(url);
    } catch (e) {
      throw new UsageError(`${option} ${(e as Error).message}`);
    }
    return new S3Storage(url, s3Options);
  }
  return new FsStorage(url);
}
