import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { isCovered } from './integrity/digest-record.js';
import { bytesDigest, fileDigest } from './integrity/file-digest.js';
import { STATE_PREFIX } from './layout.js';
import { readState } from './state.js';
import type { Storage } from './storage.js';
import type { CommitHook, UnitCommit, UnitKind, WrittenObject } from './unit-commit.js';

/**
 * A lake unit: the files of one input, stream flush, compaction or alerts write, made visible all at
 * once. While the unit is open its files are stored under `_state/pending/<unit id>/`, outside every
 * table location (Athena's `events/` and `alerts/`, DuckDB's views), so no reader sees them. `commit`
 * then stores one journal object, `_state/journal/<unit id>.json` (the commit point: the unit's
 * {@link UnitCommit} record plus the moves and state writes that publish it), and rolls it forward:
 *
 *   1. move each pending file to its key   2. remove replaced files   3. write state (manifest, checkpoint)
 *   4. call the commit hooks (digest chain)  5. delete the journal
 *
 * Killed before the journal is stored, the unit never happened: the next writer deletes its pending
 * files. Killed after, the next writer finds the journal and finishes steps 1-5 (each is idempotent).
 */

export const PENDING_PREFIX = `${STATE_PREFIX}pending/`;
export const JOURNAL_PREFIX = `${STATE_PREFIX}journal/`;

/** Pending units of another process are removed only after this long (a Lambda runs at most 15 minutes). */
export const STALE_PENDING_MS = 60 * 60 * 1000;

/** Environment variable naming a step at which a unit kills its own process (fault-injection tests). */
export const UNIT_FAULT_ENV = 'AUDITLAKE_UNIT_FAULT';

/** Dies with SIGKILL at the named step when `AUDITLAKE_UNIT_FAULT` names it; a no-op otherwise. */
export function unitFault(step: string): void {
  if (process.env[UNIT_FAULT_ENV] === step) process.kill(process.pid, 'SIGKILL');
}

/** Environment variable: the n-th file a process stages fails with ENOSPC (disk-full fault injection). */
export const ENOSPC_FAULT_ENV = 'AUDITLAKE_FAULT_ENOSPC_AT';
let stagedFiles = 0;

function injectedDiskFull(path: string): void {
  if (process.env[ENOSPC_FAULT_ENV] === String(++stagedFiles))
    throw Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: 'ENOSPC' });
}

const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

/** A new unit id: UTC start time, host hash and pid (so a later writer can tell a dead owner), random tail. */
export function newUnitId(now = new Date()): string {
  const time = now.toISOString().replace(/[-:]/g, '').slice(0, 15);
  return `${time}-${HOST}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** What the journal of a committed unit holds. */
export interface UnitJournal {
  commit: UnitCommit;
  /** Pending key -> published key. */
  moves: { from: string; to: string }[];
  /** Small objects written when the unit is published (input manifest, stream checkpoint). */
  state: { key: string; body: string }[];
}

/** The parts of a journal recovery relies on; the commit record's own fields are checked by whoever reads it (the digest chain). */
const unitJournalSchema = z.looseObject({
  commit: z.looseObject({
    unit_id: z.string(),
    kind: z.string(),
    written: z.array(z.looseObject({ key: z.string() })),
    removed: z.array(z.string()),
  }),
  moves: z.array(z.object({ from: z.string(), to: z.string() })),
  state: z.array(z.object({ key: z.string(), body: z.string() })),
});

/** A file stored under the unit's pending folder, not yet published. */
export interface StagedObject extends WrittenObject {
  pending: string;
  rows: number;
}

/** One unit of lake output; see the module comment. */
export class LakeUnit {
  readonly id = newUnitId();
  private readonly moves: { from: string; to: string }[] = [];
  private readonly written: WrittenObject[] = [];
  private readonly staged: StagedObject[] = [];
  private readonly removed = new Set<string>();
  private readonly state: { key: string; body: string }[] = [];
  private seq = 0;
  private done = false;

  constructor(
    readonly storage: Storage,
    readonly kind: UnitKind,
    private readonly hooks: readonly CommitHook[] = [],
  ) {}

  private pendingKey(name: string): string {
    return `${PENDING_PREFIX}${this.id}/${String(this.seq++).padStart(5, '0')}-${name.replaceAll('/', '_')}`;
  }

  /** Hashes a local file and stores it in the pending folder (the local file is consumed); publish it with {@link publish}. */
  async stageFile(localPath: string, rows: number, name: string): Promise<StagedObject> {
    injectedDiskFull(localPath);
    const { sha256, bytes } = await fileDigest(localPath);
    const pending = this.pendingKey(name);
    await this.storage.putFile(pending, localPath);
    const staged = { pending, key: '', sha256, bytes, rows };
    this.staged.push(staged);
    return staged;
  }

  /** Deletes a staged file that will not be published. */
  async discard(staged: StagedObject): Promise<void> {
    await this.storage.delete(staged.pending);
    const i = this.staged.indexOf(staged);
    if (i >= 0) this.staged.splice(i, 1);
  }

  /** Publishes a staged file under `key` when the unit commits. */
  publish(staged: StagedObject, key: string): void {
    this.moves.push({ from: staged.pending, to: key });
    this.written.push({ key, sha256: staged.sha256, bytes: staged.bytes, rows: staged.rows });
  }

  /** Stores a local file that is published under `key` when the unit commits. */
  async putFile(key: string, localPath: string, rows: number): Promise<WrittenObject> {
    const staged = await this.stageFile(localPath, rows, key);
    this.publish(staged, key);
    return { key, sha256: staged.sha256, bytes: staged.bytes, rows };
  }

  /** Stores bytes that are published under `key` when the unit commits. */
  async putBytes(key: string, body: Buffer | string, rows = 0): Promise<WrittenObject> {
    const pending = this.pendingKey(key);
    await this.storage.putBytes(pending, body);
    const written = { key, ...bytesDigest(body), rows };
    this.staged.push({ pending, ...written });
    this.moves.push({ from: pending, to: key });
    this.written.push(written);
    return written;
  }

  /** Removes `key` from the lake when the unit commits (unless the unit publishes that key). */
  remove(key: string): void {
    this.removed.add(key);
  }

  /** Writes a small state object (manifest, checkpoint) when the unit commits; not part of `written`. */
  setState(key: string, body: string): void {
    this.state.push({ key, body });
  }

  /** Keys this unit publishes so far. */
  get publishedKeys(): string[] {
    return this.written.map((w) => w.key);
  }

  /** Commits the unit: stores its journal (the commit point) and rolls it forward. Returns the commit record. */
  async commit(): Promise<UnitCommit> {
    if (this.done) throw new Error(`unit ${this.id} is already finished`);
    this.done = true;
    const publishing = new Set(this.written.map((w) => w.key));
    // State the digest chain covers (an input's manifest) is named with its hash like any file; checkpoints are not.
    const coveredState = this.state.filter((s) => isCovered(s.key)).map((s): WrittenObject => ({ key: s.key, ...bytesDigest(s.body) }));
    const record: UnitCommit = {
      unit_id: this.id,
      kind: this.kind,
      committed_at: new Date().toISOString(),
      written: [...this.written, ...coveredState].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
      removed: [...this.removed].filter((k) => !publishing.has(k)).sort(),
      rows: this.written.filter((w) => w.key.endsWith('.parquet')).reduce((n, w) => n + (w.rows ?? 0), 0),
    };
    // Staged files never published (e.g. an input that turned out to repeat another) go with the journal.
    const unpublished = this.staged.filter((s) => !this.moves.some((m) => m.from === s.pending));
    for (const s of unpublished) await this.storage.delete(s.pending);
    if (record.written.length === 0 && record.removed.length === 0 && this.state.length === 0) return record;
    const journal: UnitJournal = { commit: record, moves: this.moves, state: this.state };
    await this.storage.putBytes(journalKey(this.id), `${JSON.stringify(journal)}\n`);
    unitFault(`${this.kind}-journal`);
    await rollForward(this.storage, journal, this.hooks);
    return record;
  }

  /** Drops the unit: its pending files are deleted and nothing of it becomes visible. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    for (const s of this.staged) await this.storage.delete(s.pending).catch(() => {});
  }
}

function journalKey(unitId: string): string {
  return `${JOURNAL_PREFIX}${unitId}.json`;
}

/** Finishes publishing a committed unit; every step may run again after a crash. */
export async function rollForward(storage: Storage, journal: UnitJournal, hooks: readonly CommitHook[]): Promise<void> {
  const kind = journal.commit.kind;
  for (const move of journal.moves) {
    // A move already done finds no source: the published object is in place.
    await storage.rename(move.from, move.to);
    unitFault(`${kind}-moved-1`);
  }
  for (const key of journal.commit.removed) await storage.delete(key);
  for (const s of journal.state) await storage.putBytes(s.key, s.body);
  unitFault(`${kind}-published`);
  for (const hook of hooks) await hook(journal.commit, storage);
  await storage.delete(journalKey(journal.commit.unit_id));
}

/** What recovery did. */
export interface UnitRecovery {
  /** Committed units whose publishing a dead process had not finished. */
  rolledForward: number;
  /** Uncommitted units whose pending files were removed. */
  discarded: number;
  /**
   * Committed units this writer could not finish, with why: e.g. another source's unit, whose files this
   * writer's role may not write (see `infra/`). They stay journaled for a writer that can; verify notes them.
   */
  unfinished: { unit_id: string; error: string }[];
}

/**
 * A new owner tag, `<host hash>-<pid>-<random>`: names what one process keeps in a shared folder of the
 * lake (its staging folder) so that another writer can tell whether the owner is gone.
 */
export function newOwnerTag(): string {
  return `${HOST}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** True for an owner tag of a process of this host that no longer runs; false for a live or another host's owner, or no tag. */
export function ownerTagGone(tag: string): boolean {
  const m = /^([0-9a-f]{8})-(\d+)-[0-9a-f]{8}$/.exec(tag);
  if (!m || m[1] !== HOST) return false;
  const pid = Number(m[2]);
  return pid !== process.pid && !pidAlive(pid);
}

/** True when a unit id's owner is certainly gone: this host, and its pid is not alive, or it is old. */
function ownerGone(unitId: string, now: number): boolean {
  const m = /^(\d{8})T(\d{6})-([0-9a-f]{8})-(\d+)-/.exec(unitId);
  if (!m) return true;
  const started = Date.parse(
    `${m[1].slice(0, 4)}-${m[1].slice(4, 6)}-${m[1].slice(6, 8)}T${m[2].slice(0, 2)}:${m[2].slice(2, 4)}:${m[2].slice(4, 6)}Z`,
  );
  if (now - started > STALE_PENDING_MS) return true;
  if (m[3] !== HOST) return false;
  const pid = Number(m[4]);
  if (pid === process.pid) return false;
  return !pidAlive(pid);
}

/** Whether a local process exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Rolls forward every committed unit a dead process left half-published and deletes the pending files
 * of units that never committed (when their owner is gone). Run by every command that writes the lake,
 * holding the lake lock, before it writes.
 */
export async function recoverUnits(storage: Storage, hooks: readonly CommitHook[] = []): Promise<UnitRecovery> {
  const result: UnitRecovery = { rolledForward: 0, discarded: 0, unfinished: [] };
  const now = Date.now();
  for (const key of await storage.list(JOURNAL_PREFIX)) {
    if (!key.endsWith('.json')) continue;
    const unitId = key.slice(JOURNAL_PREFIX.length, -'.json'.length);
    try {
      // A damaged journal is reported with the others left unfinished, not a lake nobody can write any more.
      const journal = (await readState(storage, key, unitJournalSchema)) as UnitJournal | null;
      if (!journal || !ownerGone(journal.commit.unit_id, now)) continue;
      await rollForward(storage, journal, hooks);
      result.rolledForward++;
    } catch (e) {
      result.unfinished.push({ unit_id: unitId, error: (e as Error).message });
    }
  }
  // A committed unit's pending files are its data until its roll forward is done: never discarded.
  const journaled = new Set((await storage.list(JOURNAL_PREFIX)).map((key) => key.slice(JOURNAL_PREFIX.length).replace(/\.json$/, '')));
  const units = new Set<string>();
  for (const key of await storage.list(PENDING_PREFIX)) {
    const unitId = key.slice(PENDING_PREFIX.length).split('/')[0];
    if (journaled.has(unitId) || !ownerGone(unitId, now)) continue;
    await storage.delete(key);
    units.add(unitId);
  }
  result.discarded = units.size;
  return result;
}
