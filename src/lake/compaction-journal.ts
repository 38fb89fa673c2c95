import { z } from 'zod';
import { ensureCompactionDigest } from './integrity/compaction-digest.js';
import type { Signer } from './integrity/signers.js';
import { compactionJournalKey, STATE_PREFIX } from './layout.js';
import { readState } from './state.js';
import type { Storage } from './storage.js';

/**
 * Compactions are now lake units (`unit.ts`); this finishes the journals of the earlier format that a
 * killed process of an earlier version may have left behind.
 *
 * The journal that made a compaction safe to kill at any point. It is stored before any new file,
 * names every object the compaction adds (`new`) and replaces (`old`), and is marked committed only
 * after the new files are stored and their rows verified:
 *
 *   1. journal `pending`   2. store new files   3. journal `committed`   4. delete old files   5. delete journal
 *
 * Whoever finds a journal later (the next `compact` or `ingest`) finishes the job: a committed one is
 * rolled forward (its old files deleted), a pending one rolled back (its new files deleted). Either way
 * every event is in the lake exactly once afterwards. Only one process may write a lake at a time.
 */
const compactionJournalSchema = z.looseObject({
  id: z.string(),
  partition: z.string(),
  state: z.enum(['pending', 'committed']),
  new: z.array(z.string()),
  old: z.array(z.string()),
  rows: z.number(),
  created: z.string(),
});

export interface CompactionJournal {
  id: string;
  partition: string;
  state: 'pending' | 'committed';
  /** Objects the compaction stores: Parquet files and their indexes. */
  new: string[];
  /** Objects it replaces: the merged Parquet files (and indexes of merged compacted files). */
  old: string[];
  /** Rows of the old files, equal to the rows of the new ones. */
  rows: number;
  created: string;
}

/** Environment variable naming a step at which compaction kills its own process (fault-injection tests). */
export const FAULT_ENV = 'AUDITLAKE_COMPACT_FAULT';

/** Dies with SIGKILL at the named step when `AUDITLAKE_COMPACT_FAULT` names it; a no-op otherwise. */
export function faultPoint(step: string): void {
  if (process.env[FAULT_ENV] === step) process.kill(process.pid, 'SIGKILL');
}

/** Stores a journal (whole-object write: it is either the old state or the new one). */
export async function writeJournal(storage: Storage, journal: CompactionJournal): Promise<void> {
  await storage.putBytes(compactionJournalKey(journal.id), `${JSON.stringify(journal, null, 2)}\n`);
}

/** What recovery did. */
export interface RecoveryResult {
  rolledForward: number;
  rolledBack: number;
}

/** Finishes or undoes every compaction a killed process left behind; a finished one gets its digest if it has none yet. */
export async function recoverCompactions(storage: Storage, signer: Signer | null = null): Promise<RecoveryResult> {
  const result: RecoveryResult = { rolledForward: 0, rolledBack: 0 };
  for (const key of await storage.list(`${STATE_PREFIX}compactions/`)) {
    if (!key.endsWith('.json')) continue;
    const journal = await readState(storage, key, compactionJournalSchema);
    if (!journal) continue;
    if (journal.state === 'committed') {
      await ensureCompactionDigest(storage, journal, signer);
      for (const k of journal.old) await storage.delete(k);
      result.rolledForward++;
    } else {
      for (const k of journal.new) await storage.delete(k);
      result.rolledBack++;
    }
    await storage.delete(key);
  }
  return result;
}
