import { randomUUID } from 'node:crypto';
import { chmod, copyFile, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { makeDir } from './make-dir.js';
import type { Storage, StoredObject } from './storage.js';
import { newOwnerTag, ownerTagGone } from './unit.js';

/**
 * Staging lives inside the lake so that storing a staged file is a rename on one filesystem. Each storage
 * instance stages in a folder of its own under it, named by an owner tag (`unit.ts`): writers that take no
 * lock (the proxy, the Lambda handlers) run beside one that does, so a writer may only clear the folders of
 * owners that are gone (`clearAbandonedStaging`).
 */
export const STAGING_KEY = '_state/tmp';

/** Mode of the files a local lake stores: they hold statement text, so owner only unless told otherwise. */
export const DEFAULT_FILE_MODE = 0o600;

/** The lake as a local folder: the default. Writes go to a temporary name and are renamed into place. */
export class FsStorage implements Storage {
  readonly root: string;
  /** Mode of stored files (`--file-mode`); directories get it with x where r is set (0600 gives 0700). */
  fileMode = DEFAULT_FILE_MODE;
  /** This instance's staging folder, once asked for. */
  private staging: string | null = null;
  constructor(readonly url: string) {
    this.root = resolve(url);
  }

  private dirMode(): number {
    return this.fileMode | ((this.fileMode & 0o444) >> 2);
  }

  private path(key: string): string {
    const full = resolve(this.root, key);
    if (full !== this.root && !full.startsWith(this.root + sep)) throw new Error(`key escapes the lake: ${key}`);
    return full;
  }

  async putFile(key: string, localPath: string): Promise<void> {
    const target = this.path(key);
    await makeDir(dirname(target), this.dirMode());
    // Set before the file becomes visible under its name.
    await chmod(localPath, this.fileMode);
    try {
      await rename(localPath, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      const temp = `${target}.${randomUUID()}.tmp`;
      await copyFile(localPath, temp);
      await chmod(temp, this.fileMode);
      await rename(temp, target);
      await rm(localPath, { force: true });
    }
  }

  async putBytes(key: string, body: Buffer | string): Promise<void> {
    const target = this.path(key);
    await makeDir(dirname(target), this.dirMode());
    const temp = `${target}.${randomUUID()}.tmp`;
    await writeFile(temp, body, { mode: this.fileMode });
    await rename(temp, target);
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.path(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const start = this.path(prefix.endsWith('/') ? prefix : dirname(prefix) === '.' ? '' : dirname(prefix));
    const keys: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (!entry.name.endsWith('.tmp')) keys.push(relative(this.root, full).split(sep).join('/'));
      }
    };
    await walk(start);
    return keys.filter((k) => k.startsWith(prefix)).sort();
  }

  async listObjects(prefix: string): Promise<StoredObject[]> {
    const keys = await this.list(prefix);
    const sizes = await Promise.all(
      keys.map((k) =>
        stat(this.path(k)).then(
          (s) => s.size,
          () => -1,
        ),
      ),
    );
    return keys.map((key, i) => ({ key, size: sizes[i] })).filter((o) => o.size >= 0);
  }

  async download(key: string, localPath: string): Promise<boolean> {
    try {
      await copyFile(this.path(key), localPath);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  async rename(from: string, to: string): Promise<boolean> {
    const source = this.path(from);
    const target = this.path(to);
    await makeDir(dirname(target));
    try {
      await rename(source, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    // A unit's pending folder empties as it is published; an empty folder is removed, a full one stays.
    await rmdir(dirname(source)).catch(() => {});
    return true;
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  localPath(key: string): string {
    return this.path(key);
  }

  async stagingDir(): Promise<string> {
    this.staging ??= this.path(`${STAGING_KEY}/${newOwnerTag()}`);
    await makeDir(this.staging);
    return this.staging;
  }

  /** Removes this instance's staging folder; a killed process's is cleared by the next writer (`clearAbandonedStaging`). */
  async close(): Promise<void> {
    if (this.staging) await rm(this.staging, { recursive: true, force: true });
    this.staging = null;
  }
}

/**
 * Clears what killed writers left in a local lake's staging: the folders of owners that are gone (this host,
 * pid no longer running) and, only for a writer holding the lake's lock, loose files of the layout before
 * per-writer folders. Another host's folders stay: whether their owner runs cannot be told from here.
 */
export async function clearAbandonedStaging(storage: Storage, holdingLock: boolean): Promise<void> {
  if (!(storage instanceof FsStorage)) return;
  const dir = storage.localPath(STAGING_KEY);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  for (const name of names) {
    const ownerTagged = /^[0-9a-f]{8}-\d+-[0-9a-f]{8}$/.test(name);
    if (ownerTagged ? ownerTagGone(name) : holdingLock) await rm(join(dir, name), { recursive: true, force: true });
  }
}
