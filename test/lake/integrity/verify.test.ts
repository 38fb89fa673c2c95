import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DigestRecord, digestKey, encodeDigest, parseDigest, signedMessage } from '../../../src/lake/integrity/digest-record.js';
import { sha256Hex } from '../../../src/lake/integrity/file-digest.js';
import { ed25519FileSigner } from '../../../src/lake/integrity/signers.js';
import { UNIT_FAULT_ENV } from '../../../src/lake/unit.js';
import { cli } from '../../support/cli.js';

/**
 * `auditlake verify` on a local lake: each way of tampering named in the design is found, exits 3
 * and names the path; legitimate rewrites (re-ingest, compaction, a killed compaction finished or
 * undone) verify clean.
 */

// Three inputs whose events are all distinct (the csvlog and jsonlog of one server hold the same records, stored once).
const INPUTS = ['fixtures/pgaudit/pg15.csv', 'fixtures/pgaudit/pg15-rds.log', 'fixtures/pgaudit/pg15-rds.cloudwatch.json'];

function child(args: string[], env: Record<string, string> = {}): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['bin/auditlake.js', ...args], { env: { ...process.env, ...env }, stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => resolve(code));
  });
}

async function files(dir: string, under: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else out.push(r);
    }
  };
  await walk(under);
  return out.sort();
}

describe('auditlake verify (local lake)', () => {
  let work: string;
  let pristine: string;
  let key: string;
  let otherKey: string;
  let n = 0;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'auditlake-verify-'));
    key = join(work, 'key.pem');
    otherKey = join(work, 'other.pem');
    for (const path of [key, otherKey])
      await writeFile(path, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    pristine = join(work, 'pristine');
    // One input per run: three units, three digests (plus none for alerts: no rules).
    for (const input of INPUTS) expect((await cli('ingest', input, '--out', pristine, '--sign-key', key, '--json')).code).toBe(0);
  }, 120_000);
  afterAll(() => rm(work, { recursive: true, force: true }));

  /** A fresh copy of the pristine lake. */
  async function copy(): Promise<string> {
    const dir = join(work, `lake-${++n}`);
    await cp(pristine, dir, { recursive: true });
    return dir;
  }

  async function verify(dir: string, ...extra: string[]) {
    return cli('verify', '--lake', dir, ...extra);
  }

  async function readDigest(dir: string, seq: number): Promise<DigestRecord> {
    return parseDigest(await readFile(join(dir, digestKey(seq))));
  }

  it('verifies the untouched lake clean, every digest signed', async () => {
    const run = await verify(pristine, '--public-key', key, '--json');
    expect(run.code).toBe(0);
    const lines = run.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const summary = lines.at(-1);
    expect(summary).toMatchObject({ type: 'summary', digests: 3, signed: 3, unsigned: 0, digest_problems: 0, clean: true });
    const covered = (await files(pristine, 'events')).length + (await files(pristine, '_state/manifests')).length;
    expect(summary.files.valid).toBe(covered + (await files(pristine, '_quarantine').catch(() => [])).length);
    expect(lines.filter((l) => l.type === 'file').every((l) => l.status === 'valid')).toBe(true);
  });

  it('finds a byte changed in a Parquet file', async () => {
    const dir = await copy();
    const [victim] = await files(dir, 'events');
    const bytes = await readFile(join(dir, victim));
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    await writeFile(join(dir, victim), bytes);
    const run = await verify(dir);
    expect(run.code).toBe(3);
    expect(run.out).toMatch(new RegExp(`^MODIFIED +${victim.replaceAll('.', '\\.')} `, 'm'));
  });

  it('finds a deleted file and an inserted one', async () => {
    const dir = await copy();
    const [victim, other] = await files(dir, 'events');
    await unlink(join(dir, victim));
    const inserted = other.replace(/-0\.parquet$/, '-7.parquet');
    await cp(join(dir, other), join(dir, inserted));
    const run = await verify(dir);
    expect(run.code).toBe(3);
    expect(run.out).toContain(`MISSING       ${victim}`);
    expect(run.out).toContain(`UNEXPECTED    ${inserted}`);
  });

  it("finds a whole input's files and manifest removed together", async () => {
    const dir = await copy();
    const first = await readDigest(dir, 1);
    for (const w of first.written) await unlink(join(dir, w.key));
    const run = await verify(dir);
    expect(run.code).toBe(3);
    for (const w of first.written) expect(run.out).toContain(`MISSING       ${w.key}`);
    expect(first.written.some((w) => w.key.startsWith('_state/manifests/'))).toBe(true);
  });

  it('finds an edited digest: its signature fails and the next link breaks', async () => {
    const dir = await copy();
    const path = join(dir, digestKey(2));
    const edited = (await readFile(path, 'utf8')).replace(/"rows":(\d+),"seq"/, (_, r) => `"rows":${Number(r) + 1},"seq"`);
    await writeFile(path, edited);
    const run = await verify(dir);
    expect(run.code).toBe(3);
    expect(run.out).toContain(`BAD-SIGNATURE ${digestKey(2)}`);
    expect(run.out).toContain(`BROKEN-LINK   ${digestKey(3)}  (previous_sha256 does not match ${digestKey(2)}`);
  });

  it('finds a digest removed from the middle of the chain', async () => {
    const dir = await copy();
    await unlink(join(dir, digestKey(2)));
    const run = await verify(dir);
    expect(run.code).toBe(3);
    expect(run.out).toContain(`GAP           ${digestKey(2)}`);
  });

  it('finds the last digests removed, through the head note', async () => {
    const dir = await copy();
    await unlink(join(dir, digestKey(3)));
    const run = await verify(dir);
    expect(run.code).toBe(3);
    expect(run.out).toContain(`GAP           ${digestKey(3)}`);
  });

  it('finds a digest rewritten and signed with another key', async () => {
    const dir = await copy();
    // A forger drops a file from the last digest (to hide deleting it) and signs with their own key.
    const record = await readDigest(dir, 3);
    const dropped = record.written.find((w) => w.key.startsWith('events/'));
    if (!dropped) throw new Error('no events file in digest 3');
    record.written = record.written.filter((w) => w !== dropped);
    record.signature = await (await ed25519FileSigner(otherKey)).sign(signedMessage(record));
    await writeFile(join(dir, digestKey(3)), encodeDigest(record));
    await unlink(join(dir, dropped.key));
    const run = await verify(dir);
    expect(run.code).toBe(3);
    expect(run.out).toContain(`BAD-SIGNATURE ${digestKey(3)}  (signed by key`);
    expect(run.out).toContain("not the key of the chain's first signed digest");
  });

  it('finds a whole chain re-signed with another key when the key is pinned', async () => {
    const dir = await copy();
    const forger = await ed25519FileSigner(otherKey);
    let previous: string | null = null;
    for (let seq = 1; seq <= 3; seq++) {
      const record = await readDigest(dir, seq);
      record.previous_sha256 = previous;
      record.signature = await forger.sign(signedMessage(record));
      const body = encodeDigest(record);
      await writeFile(join(dir, digestKey(seq)), body);
      previous = sha256Hex(body);
    }
    await writeFile(join(dir, '_state/digest-head.json'), JSON.stringify({ seq: 3, sha256: previous }));
    expect((await verify(dir)).code).toBe(0); // consistent on its own: only a pinned key tells
    const run = await verify(dir, '--public-key', key);
    expect(run.code).toBe(3);
    expect(run.out).toContain(`BAD-SIGNATURE ${digestKey(1)}  (signed by key`);
    expect(run.out).toContain('not a trusted key');
  });

  it('finds an edited digest in an unsigned chain through the broken link, and says the chain is unsigned', async () => {
    const dir = join(work, 'unsigned');
    for (const input of INPUTS.slice(0, 2)) expect((await cli('ingest', input, '--out', dir, '--json')).code).toBe(0);
    const clean = await verify(dir);
    expect(clean.code).toBe(0);
    expect(clean.out).toContain('note: the chain is unsigned');
    const path = join(dir, digestKey(1));
    await writeFile(path, (await readFile(path, 'utf8')).replace('"kind":"ingest"', '"kind":"stream"'));
    const run = await verify(dir);
    expect(run.code).toBe(3);
    expect(run.out).toContain(`BROKEN-LINK   ${digestKey(2)}  (previous_sha256 does not match ${digestKey(1)}`);
  }, 60_000);

  it('verifies clean after re-ingest, compaction, and re-ingest of a compacted input', async () => {
    const dir = await copy();
    const sign = ['--sign-key', key];
    expect((await cli('ingest', INPUTS[0], '--out', dir, ...sign, '--json')).code).toBe(0);
    expect((await verify(dir, '--public-key', key)).code).toBe(0);
    const compacted = await cli('compact', '--lake', dir, ...sign, '--json');
    expect(JSON.parse(compacted.out).files_merged).toBeGreaterThan(0);
    const afterCompaction = await verify(dir, '--public-key', key);
    expect(afterCompaction.out).toContain('verify: clean');
    // Re-ingest rewrites the compacted file without the input's events.
    expect((await cli('ingest', INPUTS[1], '--out', dir, ...sign, '--json')).code).toBe(0);
    const run = await verify(dir, '--public-key', key);
    expect(run.out).toContain('verify: clean');
    expect(run.code).toBe(0);
  }, 120_000);

  it.each([
    ['compaction-staged', 'before its commit: nothing of it visible', 0],
    ['compaction-moved-1', 'after its first file was published', 3],
    ['compaction-published', 'published, before its digest', 3],
  ])(
    'verifies clean after a compaction killed at %s (%s) is finished by the next run',
    async (step, _when, interruptedCode) => {
      const dir = await copy();
      expect(await child(['compact', '--lake', dir, '--sign-key', key], { [UNIT_FAULT_ENV]: step })).toBeNull();
      const interrupted = await verify(dir);
      expect(interrupted.code).toBe(interruptedCode);
      if (interruptedCode === 3) expect(interrupted.out).toContain('a committed unit still being published');
      const recovered = await cli('compact', '--lake', dir, '--sign-key', key, '--json');
      expect(recovered.code).toBe(0);
      const run = await verify(dir, '--public-key', key);
      expect(run.out).toContain('verify: clean');
      expect(run.code).toBe(0);
    },
    60_000,
  );

  it('hashes only files committed since --since, checking older ones by size', async () => {
    const future = await verify(pristine, '--since', '2999-01-01', '--json');
    expect(future.code).toBe(0);
    expect(JSON.parse(future.out.trim().split('\n').at(-1) ?? '')).toMatchObject({ hashed: 0, clean: true });
    expect((await verify(pristine, '--since', 'yesterday')).code).toBe(2);
    expect((await cli('verify')).code).toBe(2);
    const none = await verify(join(work, 'no-such-lake'));
    expect(none.code).toBe(1);
    expect(none.err).toContain('no digests and no files: not a lake');
  });
});
