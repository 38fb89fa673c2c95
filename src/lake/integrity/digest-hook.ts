import type { Storage } from '../storage.js';
import { appendDigest, readHead } from './chain.js';
import type { UnitCommit } from './digest-record.js';
import type { Signer } from './signers.js';

/**
 * The digest chain as a unit commit hook: a committed unit's record is appended as its digest during
 * roll-forward. A unit whose roll-forward is replayed after a kill gives the same record again; writers
 * of one lake are serialized by its lock, so if the digest was already appended it is the chain's
 * head, and it is not appended twice.
 */
export function digestHook(signer: Signer | null): (record: UnitCommit, storage: Storage) => Promise<void> {
  return async (record, storage) => {
    const head = await readHead(storage);
    if (head?.record.unit_id === record.unit_id) return;
    await appendDigest(storage, record, signer);
  };
}
