import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` that reports the real reason it failed. Node's recursive mkdir answers ENOENT for any failure
 * on the way (a read-only filesystem, a permission denied), which reads as a typo in the path; here the
 * missing folders are then made one at a time, so the error names what actually stopped it (EROFS, EACCES).
 */
export async function makeDir(path: string, mode?: number): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const missing: string[] = [];
    for (let dir = resolve(path); !existsSync(dir); dir = dirname(dir)) {
      missing.unshift(dir);
      if (dirname(dir) === dir) break;
    }
    for (const dir of missing) {
      await mkdir(dir, { mode }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    }
  }
}
