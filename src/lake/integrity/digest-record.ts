import { createHash } from 'node:crypto';
import { STATE_PREFIX } from '../layout.js';
import { canonicalJson } from './canonical-json.js';

/**
 * The digest chain's records. Every unit the lake commits (an input's files, a stream unit, a
 * compaction, an alerts file) appends one digest: the SHA-256 and size of every object it wrote, the
 * objects it removed, and the SHA-256 of the previous digest, so the digests form one chain per lake.
 * A digest is stored as its canonical JSON (`canonical-json.ts`) under `_state/digests/<seq>.json`;
 * its signature covers the SHA-256 of the canonical JSON of everything else in it.
 */

/** Format tag of every digest; a reader refuses any other. */
export const DIGEST_FORMAT = 'auditlake-digest/1';

/** Folder of the digests. */
export const DIGESTS_PREFIX = `${STATE_PREFIX}digests/`;

/** Where the last appended digest is noted: a hint for the next append (verify trusts the chain, not this). */
export const DIGEST_HEAD_KEY = `${STATE_PREFIX}digest-head.json`;

/**
 * Folders whose every object must be named by the chain: event and alert Parquet, quarantine JSONL,
 * input manifests and compacted-file indexes. Everything else under `_state/` (checkpoints, journals,
 * staging, the digests themselves) changes in place by design and is not covered.
 */
export const COVERED_PREFIXES = ['events/', 'alerts/', '_quarantine/', `${STATE_PREFIX}manifests/`, `${STATE_PREFIX}compacted/`];

/** True when the chain must name `key`. */
export function isCovered(key: string): boolean {
  return COVERED_PREFIXES.some((p) => key.startsWith(p));
}

/** What kind of unit a digest commits. */
export type UnitKind = 'ingest' | 'stream' | 'compaction' | 'alerts';

/** One object a unit stored. */
export interface WrittenObject {
  key: string;
  /** SHA-256 of the object's bytes, lowercase hex. */
  sha256: string;
  bytes: number;
  /** Rows it holds (Parquet and quarantine files); absent for metadata objects. */
  rows?: number;
}

/** What a unit committed: the record the lake writer produces once per unit, and the body of its digest. */
export interface UnitCommit {
  unit_id: string;
  kind: UnitKind;
  /** UTC, ISO 8601. */
  committed_at: string;
  written: WrittenObject[];
  /** Keys the unit deleted or replaced without rewriting (re-ingest leftovers, compacted originals). */
  removed: string[];
  rows: number;
}

/** A signature over a digest's canonical JSON without its `signature` member. */
export interface DigestSignature {
  /** `ED25519`, or the KMS signing algorithm (`ECDSA_SHA_256`, `RSASSA_PSS_SHA_256`, ...). */
  algorithm: string;
  /** The KMS key ARN, or `file` for a local key. */
  key_id: string;
  /** The signer's public key, DER SubjectPublicKeyInfo, base64. */
  public_key: string;
  /** SHA-256 of the DER public key, hex: what a verifier pins. */
  key_fingerprint: string;
  /** The signature, base64 (DER for ECDSA, as KMS returns it). */
  value: string;
}

/** One link of the chain. */
export interface DigestRecord extends UnitCommit {
  format: typeof DIGEST_FORMAT;
  /** 1 for the lake's first digest, then +1 per digest. */
  seq: number;
  /** SHA-256 of the previous digest's stored bytes; null for the first. */
  previous_sha256: string | null;
  signature?: DigestSignature;
}

/** Key of digest number `seq`; zero-padded so storage lists them in chain order. */
export function digestKey(seq: number): string {
  return `${DIGESTS_PREFIX}${String(seq).padStart(12, '0')}.json`;
}

/** The sequence number a digest key names; null for anything else under the folder. */
export function digestSeq(key: string): number | null {
  const m = /^_state\/digests\/(\d{12})\.json$/.exec(key);
  return m ? Number(m[1]) : null;
}

/**
 * The message a signature covers: the SHA-256 (32 bytes) of the record's canonical JSON without its
 * signature. Signing a fixed-size message keeps every digest within KMS's 4096-byte `Sign` limit.
 */
export function signedMessage(record: DigestRecord): Buffer {
  const { signature: _, ...unsigned } = record;
  return createHash('sha256').update(canonicalJson(unsigned), 'utf8').digest();
}

/** The stored form of a digest: canonical JSON and a newline. Its SHA-256 is the next digest's `previous_sha256`. */
export function encodeDigest(record: DigestRecord): Buffer {
  return Buffer.from(`${canonicalJson(record)}\n`, 'utf8');
}

/** Parses a stored digest, checking its shape; throws a message naming what is wrong. */
export function parseDigest(body: Buffer): DigestRecord {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new Error(`not JSON (${(e as Error).message})`, { cause: e });
  }
  const r = value as DigestRecord;
  if (typeof r !== 'object' || r === null || r.format !== DIGEST_FORMAT) throw new Error(`not an ${DIGEST_FORMAT} record`);
  if (!Number.isSafeInteger(r.seq) || r.seq < 1) throw new Error('seq is not a positive integer');
  if (r.previous_sha256 !== null && !/^[0-9a-f]{64}$/.test(String(r.previous_sha256))) throw new Error('previous_sha256 is not a SHA-256');
  if (!Array.isArray(r.written) || !Array.isArray(r.removed)) throw new Error('written/removed are not lists');
  for (const w of r.written) {
    if (typeof w?.key !== 'string' || !/^[0-9a-f]{64}$/.test(String(w.sha256)) || !Number.isSafeInteger(w.bytes))
      throw new Error('a written entry lacks key, sha256 or bytes');
  }
  if (r.removed.some((k) => typeof k !== 'string')) throw new Error('a removed entry is not a key');
  return r;
}
