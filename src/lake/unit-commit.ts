import { digestHook } from './integrity/digest-hook.js';
import type { UnitCommit } from './integrity/digest-record.js';
import type { Signer } from './integrity/signers.js';
import type { Storage } from './storage.js';

/**
 * The commit record of a lake unit: the one place where an input, a stream flush, a compaction or an
 * alerts write becomes visible. It names every object the unit published (with its SHA-256, size and
 * rows) and every object it removed. It is the body of the unit's roll-forward journal (`unit.ts`)
 * and, appended to the digest chain by the commit hook, the body of the unit's digest: one record,
 * declared once in `integrity/digest-record.ts`.
 */

export type { UnitCommit, UnitKind, WrittenObject } from './integrity/digest-record.js';

/**
 * Called once a unit is committed, before its journal is removed; when a process dies before every hook
 * returned, the next writer replays the journal and calls the hooks again with the same record, so a
 * hook must be idempotent on `unit_id`.
 */
export type CommitHook = (record: UnitCommit, storage: Storage) => Promise<void>;

/** The hooks every unit of a lake commits through: the digest chain (`integrity/`), signed when a signer is given. */
export function commitHooksFor(_storage: Storage, signer: Signer | null = null): CommitHook[] {
  return [digestHook(signer)];
}
