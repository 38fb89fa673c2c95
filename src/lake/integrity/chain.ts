import { z } from 'zod';
import type { Storage } from '../storage.js';
import {
  DIGEST_FORMAT,
  DIGEST_HEAD_KEY,
  DIGESTS_PREFIX,
  type DigestRecord,
  digestKey,
  digestSeq,
  encodeDigest,
  parseDigest,
  signedMessage,
  type UnitCommit,
} from './digest-record.js';
import { sha256Hex } from './file-digest.js';
import { putIfAbsent } from './put-if-absent.js';
import type { Signer } from './signers.js';

/**
 * Appending to the digest chain. The chain's head is found from a small hint object
 * (`_state/digest-head.json`), confirmed against the digests themselves (the hinted digest exists and
 * the next does not), and found by listing when the hint is absent or stale. A digest is only ever
 * created, never replaced: concurrent writers each get their own number.
 */

/** The head hint as stored: the number and SHA-256 of the last digest appended. */
const _headHintSchema = z.looseObject({ seq: z.number().int(), sha256: z.string() });

/** The last digest of a chain and the SHA-256 of its stored bytes. */
export interface ChainHead {
  record: DigestRecord;
  sha256: string;
}

async function digestAt(storage: Storage, seq: number): Promise<ChainHead | null> {
  const body = await storage.get(digestKey(seq));
  return body ? { record: parseDigest(body), sha256: sha256Hex(body) } : null;
}

/** The digest number the head hint names; 0 when there is none or it is unreadable (it is only a hint: the chain is listed then). */
function parseHint(body: Buffer | null): number {
  if (!body) return 0;
  try {
    return Number((JSON.parse(body.toString('utf8')) as { seq?: unknown }).seq);
  } catch {
    return 0;
  }
}

/** The chain's last digest, or null for a lake without digests. */
export async function readHead(storage: Storage): Promise<ChainHead | null> {
  const hinted = parseHint(await storage.get(DIGEST_HEAD_KEY));
  if (Number.isSafeInteger(hinted) && hinted > 0) {
    const head = await digestAt(storage, hinted);
    if (head && !(await storage.get(digestKey(hinted + 1)))) return head;
  }
  let last = 0;
  for (const key of await storage.list(DIGESTS_PREFIX)) last = Math.max(last, digestSeq(key) ?? 0);
  return last > 0 ? digestAt(storage, last) : null;
}

/** Appends retried when another writer took the number first. */
const APPEND_ATTEMPTS = 20;

/**
 * Appends the digest of a committed unit: numbered after the head, linked to it by SHA-256, signed
 * when a signer is given, and stored atomically under a number no digest has yet (`putIfAbsent`): a
 * writer that loses a race for the number reads the new head and tries again. A unit that wrote and
 * removed nothing appends nothing. Returns the stored digest.
 */
export async function appendDigest(storage: Storage, commit: UnitCommit, signer: Signer | null): Promise<DigestRecord | null> {
  if (commit.written.length === 0 && commit.removed.length === 0) return null;
  for (let attempt = 1; ; attempt++) {
    let head: ChainHead | null;
    try {
      head = await readHead(storage);
    } catch (e) {
      // A digest another writer is storing right now can read as incomplete on a store whose writes are
      // not atomic to readers (s3rver; S3 itself is): try again shortly, and fail naming it if it stays so.
      if (attempt >= APPEND_ATTEMPTS)
        throw new Error(`${storage.url}: the digest chain's head cannot be read: ${(e as Error).message}`, { cause: e });
      await new Promise((r) => setTimeout(r, 20 * attempt));
      continue;
    }
    const record: DigestRecord = {
      format: DIGEST_FORMAT,
      seq: (head?.record.seq ?? 0) + 1,
      previous_sha256: head?.sha256 ?? null,
      unit_id: commit.unit_id,
      kind: commit.kind,
      committed_at: commit.committed_at,
      written: [...commit.written].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
      removed: [...new Set(commit.removed)].sort(),
      rows: commit.rows,
    };
    if (signer) record.signature = await signer.sign(signedMessage(record));
    const body = encodeDigest(record);
    if (await putIfAbsent(storage, digestKey(record.seq), body)) {
      await storage.putBytes(DIGEST_HEAD_KEY, `${JSON.stringify({ seq: record.seq, sha256: sha256Hex(body) })}\n`);
      return record;
    }
    if (attempt >= APPEND_ATTEMPTS)
      throw new Error(`${storage.url}: digest ${record.seq} was taken ${attempt} times in a row by other writers`);
  }
}
