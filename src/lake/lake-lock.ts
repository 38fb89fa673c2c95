import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { FsStorage } from './fs-storage.js';
import { STATE_PREFIX } from './layout.js';
import { makeDir } from './make-dir.js';
import { S3Storage } from './s3-storage.js';
import type { Storage } from './storage.js';
import { pidAlive } from './unit.js';

/**
 * One writer per lake. Every command that writes a lake (ingest, the Kinesis consumer, the proxy,
 * compact) holds its lock while it writes; a second one is refused with an error naming the holder.
 *
 * - Local folder: `_state/lock`, created with `O_EXCL`, holding the owner's pid, host, command and
 *   start time; the holder touches it every 20 s (a lease). A lock is stale when its owner is on this
 *   host and its pid is gone, or on another host (a shared filesystem) and the lease is 2 minutes old.
 *   Taking over a stale lock renames it away first (only one taker's rename succeeds), checks that the
 *   renamed file is the one judged stale (else puts it back with `link`, which never overwrites), then
 *   creates a fresh lock with `O_EXCL` again.
 * - S3: `_state/lock.json` written with `If-None-Match: *`, renewed every 20 s with `If-Match: <ETag>`;
 *   an expired lease (2 minutes) is taken over with `If-Match` on the expired object's ETag, so of two
 *   takers exactly one wins. A store that ignores the conditions (s3rver does) is caught by reading the
 *   lock back: each writer must find its own nonce there (see the README's Reliability section).
 *
 * Lambda handlers and the proxy do not take the lock: concurrent invocations and proxy tasks write
 * distinct units (see `unit.ts`), and a proxy, which runs for days, would otherwise keep every batch writer out.
 */

export const LOCK_KEY = `${STATE_PREFIX}lock`;
export const S3_LOCK_KEY = `${STATE_PREFIX}lock.json`;
export const LEASE_MS = 120_000;
const RENEW_MS = 20_000;

/** Who holds a lake's lock. */
export interface LockHolder {
  command: string;
  host: string;
  pid: number;
  acquired_at: string;
  nonce: string;
}

/** Thrown when another writer holds the lake. */
export class LakeLockedError extends Error {
  constructor(
    readonly url: string,
    readonly holder: LockHolder | null,
  ) {
    super(
      holder
        ? `${url} is being written by another process: auditlake ${holder.command} (pid ${holder.pid} on ${holder.host}, since ${holder.acquired_at}); one writer at a time — wait for it to finish, or stop it`
        : `${url} is being written by another process (lock ${LOCK_KEY}); one writer at a time`,
    );
  }
}

/** A held lock. */
export interface LakeLock {
  holder: LockHolder;
  release(): Promise<void>;
}

function newHolder(command: string): LockHolder {
  return { command, host: hostname(), pid: process.pid, acquired_at: new Date().toISOString(), nonce: randomBytes(8).toString('hex') };
}

function parseHolder(body: Buffer | string): LockHolder | null {
  try {
    return JSON.parse(body.toString()) as LockHolder;
  } catch {
    return null;
  }
}

/** Takes the lake's lock for `command`, or throws {@link LakeLockedError}. */
export async function acquireLakeLock(storage: Storage, command: string): Promise<LakeLock> {
  if (storage instanceof FsStorage) return acquireLocal(storage, command);
  if (storage instanceof S3Storage) return acquireS3(storage, command);
  throw new Error(`no lock for ${storage.url}`);
}

/** Whether a local lock file is stale: its owner is certainly gone. */
async function staleLocal(path: string, holder: LockHolder | null): Promise<boolean> {
  if (holder && holder.host === hostname()) return holder.pid !== process.pid && !pidAlive(holder.pid);
  const s = await stat(path).catch(() => null);
  return s !== null && Date.now() - s.mtimeMs > LEASE_MS;
}

async function acquireLocal(storage: FsStorage, command: string): Promise<LakeLock> {
  const path = join(storage.root, LOCK_KEY);
  await makeDir(dirname(path));
  const holder = newHolder(command);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(`${JSON.stringify(holder)}\n`);
      await file.close();
      const timer = setInterval(() => {
        const now = new Date();
        utimes(path, now, now).catch(() => {});
      }, RENEW_MS);
      timer.unref();
      return {
        holder,
        async release() {
          clearInterval(timer);
          const current = parseHolder(await readFile(path).catch(() => ''));
          if (current?.nonce === holder.nonce) await rm(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const body = await readFile(path).catch(() => null);
    if (body === null) continue; // released meanwhile
    const current = parseHolder(body);
    if (!(await staleLocal(path, current))) throw new LakeLockedError(storage.url, current);
    // Take over: only one rename of the stale file succeeds.
    const aside = `${path}.stale-${holder.nonce}`;
    try {
      await rename(path, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    const moved = parseHolder(await readFile(aside));
    if (moved?.nonce !== current?.nonce) {
      // Someone took it over between our read and our rename: give their live lock back.
      await link(aside, path).catch(() => {});
    }
    await rm(aside, { force: true });
  }
  throw new LakeLockedError(storage.url, parseHolder(await readFile(path).catch(() => '')));
}

async function acquireS3(storage: S3Storage, command: string): Promise<LakeLock> {
  const holder = newHolder(command);
  const body = () => `${JSON.stringify({ ...holder, lease_until: new Date(Date.now() + LEASE_MS).toISOString() })}\n`;
  let etag = await storage.putConditional(S3_LOCK_KEY, body());
  if (etag === null) {
    const found = await storage.getWithEtag(S3_LOCK_KEY);
    const current = found ? parseHolder(found.body) : null;
    const until = found ? Date.parse((current as { lease_until?: string } | null)?.lease_until ?? '') : 0;
    if (found && !(until < Date.now())) throw new LakeLockedError(storage.url, current);
    etag = found ? await storage.putConditional(S3_LOCK_KEY, body(), found.etag) : await storage.putConditional(S3_LOCK_KEY, body());
    if (etag === null) throw new LakeLockedError(storage.url, current);
  }
  // Read back: a store that ignores conditional writes lets the last writer win; the others see it here.
  const check = await storage.getWithEtag(S3_LOCK_KEY);
  const now = check ? parseHolder(check.body) : null;
  if (now?.nonce !== holder.nonce) throw new LakeLockedError(storage.url, now);
  let lost = false;
  const timer = setInterval(() => {
    storage
      .putConditional(S3_LOCK_KEY, body(), etag ?? undefined)
      .then((next) => {
        if (next === null) lost = true;
        else etag = next;
      })
      .catch(() => {});
  }, RENEW_MS);
  timer.unref();
  return {
    holder,
    async release() {
      clearInterval(timer);
      if (lost) return;
      const current = await storage.getWithEtag(S3_LOCK_KEY);
      if (current && parseHolder(current.body)?.nonce === holder.nonce) await storage.delete(S3_LOCK_KEY);
    },
  };
}
