import type { CompactionJournal } from '../compaction-journal.js';
import type { Storage } from '../storage.js';
import { appendDigest, readHead } from './chain.js';
import { isCovered, type WrittenObject } from './digest-record.js';
import { storedDigest } from './file-digest.js';
import type { Signer } from './signers.js';

/**
 * Rolling a committed compaction forward: its digest is appended unless the chain already ends with
 * it (the kill came after the digest). The new objects are hashed where they are stored; they were
 * written and row-checked before the journal was marked committed.
 */
export async function ensureCompactionDigest(storage: Storage, journal: CompactionJournal, signer: Signer | null): Promise<void> {
  const head = await readHead(storage);
  if (head?.record.kind === 'compaction' && head.record.unit_id === journal.id) return;
  const written: WrittenObject[] = [];
  for (const key of journal.new.filter(isCovered)) {
    const digest = await storedDigest(storage, key);
    if (digest) written.push({ key, ...digest });
  }
  await appendDigest(
    storage,
    { unit_id: journal.id, kind: 'compaction', committed_at: new Date().toISOString(), written, removed: journal.old, rows: journal.rows },
    signer,
  );
}
