import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Storage } from '../storage.js';

/**
 * A private scratch folder for one `verify` run, where its sorted runs spill. For a local lake it is
 * under the lake (`_state/verify-tmp/`, on the lake's disk, which has room for a listing of the lake,
 * where the system temp folder may be a small tmpfs, i.e. memory); for S3, or a local lake that cannot
 * be written (a read-only mount), or one that does not exist (nothing is created), under the system
 * temp folder. Writers never touch `_state/verify-tmp/` (they clear `_state/tmp/` when they start),
 * and verify does not cover it. Removed when the run ends, on an error, on process exit and on
 * SIGINT/SIGTERM; only a killed process (SIGKILL, out of memory) leaves it behind, harmless and safe
 * to delete.
 */

/** Folder of the scratch folders of verify runs in a local lake. */
export const VERIFY_SCRATCH_KEY = '_state/verify-tmp';

/** An open scratch folder. */
export interface ScratchDir {
  readonly path: string;
  /** Removes the folder; idempotent. */
  remove(): Promise<void>;
}

/** Makes the scratch folder of one run and arranges its removal. */
export async function openScratchDir(storage: Storage): Promise<ScratchDir> {
  const path = await mkdtemp(join((await lakeScratchParent(storage)) ?? tmpdir(), 'auditlake-verify-'));
  let removed = false;
  const removeSync = () => {
    if (removed) return;
    removed = true;
    rmSync(path, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    removeSync();
    detach();
    // Nobody else handles it: die of the signal as the process would have without this handler.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const detach = () => {
    process.off('exit', removeSync);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('exit', removeSync);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    path,
    async remove() {
      detach();
      if (removed) return;
      removed = true;
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** `_state/verify-tmp/` of a local lake that exists and can be written; null otherwise. */
async function lakeScratchParent(storage: Storage): Promise<string | null> {
  const root = storage.localPath('');
  if (root === null) return null;
  try {
    if (!(await stat(root)).isDirectory()) return null;
    const parent = storage.localPath(VERIFY_SCRATCH_KEY) ?? '';
    await mkdir(parent, { recursive: true, mode: 0o700 });
    return parent;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return null;
    throw e;
  }
}
