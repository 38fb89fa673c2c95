import { stat } from 'node:fs/promises';
import { STATE_PREFIX } from '../layout.js';
import type { Storage } from '../storage.js';
import {
  COVERED_PREFIXES,
  DIGEST_HEAD_KEY,
  DIGESTS_PREFIX,
  type DigestRecord,
  digestKey,
  digestSeq,
  parseDigest,
  signedMessage,
} from './digest-record.js';
import { compareChanges, compareFolderKey, type ExpectedFile, ExpectedFiles } from './expected-files.js';
import { compareStrings, ExternalSorter, RUN_SIZE } from './external-sort.js';
import { sha256Hex, storedDigest } from './file-digest.js';
import { openScratchDir } from './scratch-dir.js';
import { signatureValid, type TrustedKey } from './signers.js';
import { listStored } from './stored-listing.js';

/**
 * `auditlake verify`: walks the digest chain, then the stored objects, and reports every covered
 * object as valid, modified, missing or unexpected, and every digest that is unreadable, out of the
 * chain (broken link, gap) or badly signed. Memory stays flat however many files the lake holds:
 * digests are read one at a time, and what the chain expects (`expected-files.ts`) and what the
 * storage holds (`stored-listing.ts`) are each put in key order by an external sort that spills to a
 * scratch folder (`scratch-dir.ts`), then compared as a merge; objects are hashed as streams a few at
 * a time, so nothing grows with file sizes either.
 */

/** What a covered object turned out to be. */
export type FileStatus = 'valid' | 'modified' | 'missing' | 'unexpected';

/** What can be wrong with a digest. */
export type DigestProblem = 'unreadable' | 'broken-link' | 'gap' | 'bad-signature' | 'unsigned';

/** One result, in the order found. */
export type VerifyEvent =
  | { type: 'file'; status: FileStatus; key: string; detail?: string }
  | { type: 'digest'; problem: DigestProblem; key: string; detail: string };

/** How to verify. */
export interface VerifyOptions {
  /** Only objects committed at or after this time are hashed; older ones are checked by size (the chain is always walked whole). */
  since?: Date;
  /** Keys whose signatures are accepted; empty: the key of the chain's first signed digest. */
  trusted?: TrustedKey[];
  /** Objects hashed at once (default 4). */
  concurrency?: number;
  /** Entries (files, digests) sorted in memory before a sorted run spills to the scratch folder (default `RUN_SIZE`). */
  runSize?: number;
  onEvent(event: VerifyEvent): void;
  onProgress?(progress: { digests: number; files: number }): void;
}

/** What verify found. */
export interface VerifySummary {
  lake: string;
  digests: number;
  signed: number;
  unsigned: number;
  /** Fingerprints (SHA-256 of the public key) that signed digests. */
  signing_keys: string[];
  files: Record<FileStatus, number>;
  hashed: number;
  digest_problems: number;
  notes: string[];
  clean: boolean;
}

/** Verifies a lake; every finding goes to `onEvent` as it is found, the totals are returned. */
export async function verifyLake(storage: Storage, options: VerifyOptions): Promise<VerifySummary> {
  const summary: VerifySummary = {
    lake: storage.url,
    digests: 0,
    signed: 0,
    unsigned: 0,
    signing_keys: [],
    files: { valid: 0, modified: 0, missing: 0, unexpected: 0 },
    hashed: 0,
    digest_problems: 0,
    notes: [],
    clean: false,
  };
  const problem = (p: DigestProblem, key: string, detail: string) => {
    summary.digest_problems++;
    options.onEvent({ type: 'digest', problem: p, key, detail });
  };
  const file = (status: FileStatus, key: string, detail?: string) => {
    summary.files[status]++;
    options.onEvent({ type: 'file', status, key, ...(detail ? { detail } : {}) });
    options.onProgress?.({ digests: summary.digests, files: Object.values(summary.files).reduce((a, b) => a + b, 0) });
  };
  const scratch = await openScratchDir(storage);
  try {
    const spill: Spill = { dir: scratch.path, runSize: options.runSize ?? RUN_SIZE };
    const expected = await walkChain(storage, spill, options, summary, problem, file);
    await walkObjects(storage, spill, expected, options, summary, file);
  } finally {
    await scratch.remove();
  }
  summary.clean = summary.digest_problems === 0 && summary.files.modified + summary.files.missing + summary.files.unexpected === 0;
  return summary;
}

/** Where and how early sorted runs spill. */
interface Spill {
  dir: string;
  runSize: number;
}

/** An external sort spilling as `spill` says. */
function sorter<T>(spill: Spill, name: string, compare: (a: T, b: T) => number): ExternalSorter<T> {
  return new ExternalSorter<T>(spill.dir, name, compare, spill.runSize);
}

type Report = (p: DigestProblem, key: string, detail: string) => void;
type FileReport = (status: FileStatus, key: string, detail?: string) => void;

/** Reads the digests in order, checking links, numbering and signatures; returns the files they describe. */
async function walkChain(
  storage: Storage,
  spill: Spill,
  options: VerifyOptions,
  summary: VerifySummary,
  problem: Report,
  file: FileReport,
): Promise<ExpectedFiles> {
  const state = new ExpectedFiles(sorter(spill, 'chain', compareChanges));
  const trusted = new Set((options.trusted ?? []).map((k) => k.fingerprint));
  let anchor: string | null = null;
  // [seq, key] by seq; other names under the folder (seq -1) first, by key.
  const digests = sorter<[number, string]>(spill, 'digests', (a, b) => a[0] - b[0] || compareStrings(a[1], b[1]));
  for await (const { key } of listStored(storage, DIGESTS_PREFIX)) await digests.add([digestSeq(key) ?? -1, key]);
  let prev: { seq: number; sha256: string } | null = null;
  for await (const [seq, key] of digests.sorted()) {
    if (seq === -1) {
      file('unexpected', key, 'not a digest name');
      continue;
    }
    const body = await storage.get(key);
    if (!body) continue;
    summary.digests++;
    const sha256 = sha256Hex(body);
    const expectedSeq: number = (prev?.seq ?? 0) + 1;
    if (seq > expectedSeq) {
      const missing = seq - 1 === expectedSeq ? digestKey(expectedSeq) : `${digestKey(expectedSeq)} .. ${digestKey(seq - 1)}`;
      problem('gap', digestKey(expectedSeq), `digest(s) missing from the chain: ${missing}`);
    }
    let record: DigestRecord;
    try {
      record = parseDigest(body);
    } catch (e) {
      problem('unreadable', key, (e as Error).message);
      prev = { seq, sha256 };
      continue;
    }
    if (record.seq !== seq) problem('broken-link', key, `names itself digest ${record.seq}`);
    else if (seq === expectedSeq && record.previous_sha256 !== (prev?.sha256 ?? null)) {
      const of = prev ? digestKey(prev.seq) : 'nothing (it is the first digest)';
      problem('broken-link', key, `previous_sha256 does not match ${of}: one of them was edited or replaced`);
    }
    const sig = record.signature;
    if (sig) {
      summary.signed++;
      if (!summary.signing_keys.includes(sig.key_fingerprint)) summary.signing_keys.push(sig.key_fingerprint);
      anchor ??= sig.key_fingerprint;
      if (!signatureValid(signedMessage(record), sig))
        problem('bad-signature', key, 'signature does not verify: the digest was changed after it was signed');
      else if (trusted.size > 0 && !trusted.has(sig.key_fingerprint))
        problem('bad-signature', key, `signed by key ${sig.key_fingerprint.slice(0, 16)}, which is not a trusted key`);
      else if (trusted.size === 0 && sig.key_fingerprint !== anchor)
        problem('bad-signature', key, `signed by key ${sig.key_fingerprint.slice(0, 16)}, not the key of the chain's first signed digest`);
    } else {
      summary.unsigned++;
      if (trusted.size > 0 || anchor !== null) problem('unsigned', key, 'not signed, in a chain that is');
    }
    await state.apply(record);
    prev = { seq, sha256 };
    options.onProgress?.({ digests: summary.digests, files: 0 });
  }
  await checkHead(storage, prev, problem);
  if (summary.digests > 0 && summary.signed === 0)
    summary.notes.push('the chain is unsigned: links are checked, but whoever can write the lake can rewrite its last digests unnoticed');
  else if (summary.signed > 0 && trusted.size === 0)
    summary.notes.push(
      `signatures checked against the key of the first signed digest (${anchor?.slice(0, 16)}); pin it with --public-key or --kms-key`,
    );
  for (const journal of await storage.list(`${STATE_PREFIX}compactions/`))
    summary.notes.push(`${journal}: an interrupted compaction; the next compact or ingest finishes it, then verify again`);
  // A unit being published right now, or left half-published by a killed writer: its digest comes last.
  for (const journal of await storage.list(`${STATE_PREFIX}journal/`))
    summary.notes.push(`${journal}: a committed unit still being published; the next writer finishes it, then verify again`);
  return state;
}

/** The head hint, noted after each append, tells whether digests after the last one were removed. */
async function checkHead(storage: Storage, last: { seq: number; sha256: string } | null, problem: Report): Promise<void> {
  const body = await storage.get(DIGEST_HEAD_KEY);
  if (!body) return;
  let head: { seq?: number; sha256?: string };
  try {
    head = JSON.parse(body.toString('utf8'));
  } catch {
    return problem('unreadable', DIGEST_HEAD_KEY, 'not JSON');
  }
  const seq = Number(head.seq);
  if (!last || seq > last.seq)
    problem(
      'gap',
      digestKey((last?.seq ?? 0) + 1),
      `digests after ${last ? digestKey(last.seq) : 'the start'} are missing (the head names digest ${seq})`,
    );
  else if (seq === last.seq && head.sha256 !== last.sha256)
    problem('broken-link', digestKey(seq), `differs from the digest the head noted when it was written`);
}

/**
 * Lists every covered folder and compares each object with the files the chain describes: both in
 * folder-then-key order, merged; chain files passed over are missing, reported last in key order.
 */
async function walkObjects(
  storage: Storage,
  spill: Spill,
  state: ExpectedFiles,
  options: VerifyOptions,
  summary: VerifySummary,
  file: FileReport,
) {
  const since = options.since?.toISOString();
  const limit = options.concurrency ?? 4;
  const running = new Set<Promise<void>>();
  const hash = async (key: string, expected: ExpectedFile) => {
    const found = await storedDigest(storage, key, expected.bytes);
    summary.hashed++;
    if (!found) file('missing', key, 'removed while verifying');
    else if (found.bytes !== expected.bytes) file('modified', key, `${found.bytes} bytes, the digest says ${expected.bytes}`);
    else if (found.sha256 !== expected.sha256)
      file('modified', key, `sha256 ${found.sha256.slice(0, 16)}..., the digest says ${expected.sha256.slice(0, 16)}...`);
    else file('valid', key);
  };
  // A local lake is listed by name only (a stat per file costs more than reading a small one); sizes
  // come from reading, or from a stat for files only size-checked. S3 listings carry sizes for free.
  const listed = sorter<[number, string, number]>(spill, 'listed', (a, b) => a[0] - b[0] || compareStrings(a[1], b[1]));
  for (const [folder, prefix] of COVERED_PREFIXES.entries())
    for await (const o of listStored(storage, prefix)) await listed.add([folder, o.key, o.size]);
  const missing = sorter<string>(spill, 'missing', compareStrings);
  const chain = state.files();
  let next = await chain.next();
  for await (const [folder, key, listedSize] of listed.sorted()) {
    while (!next.done && compareFolderKey(next.value, { folder, key }) < 0) {
      await missing.add(next.value.key);
      next = await chain.next();
    }
    if (next.done || next.value.key !== key) {
      file('unexpected', key, 'in no digest');
      continue;
    }
    const expected = next.value;
    next = await chain.next();
    const sizeOnly = since !== undefined && expected.committedAt < since;
    const size = listedSize >= 0 || !sizeOnly ? listedSize : await localSize(storage, key);
    if (size >= 0 && size !== expected.bytes) file('modified', key, `${size} bytes, the digest says ${expected.bytes}`);
    else if (sizeOnly) file('valid', key, 'size checked (committed before --since)');
    else {
      const job = hash(key, expected).finally(() => running.delete(job));
      running.add(job);
      if (running.size >= limit) await Promise.race(running);
    }
  }
  for (; !next.done; next = await chain.next()) await missing.add(next.value.key);
  await Promise.all(running);
  for await (const key of missing.sorted()) file('missing', key, 'named by the chain, not in the lake');
}

/** Size of a local lake's file; -1 when it vanished since listing. */
async function localSize(storage: Storage, key: string): Promise<number> {
  try {
    return (await stat(storage.localPath(key) ?? '')).size;
  } catch {
    return -1;
  }
}
