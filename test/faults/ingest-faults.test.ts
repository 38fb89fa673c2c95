import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCsvlog } from '../../bench/generate-csvlog.js';
import { queryLake } from '../../src/cli/commands/query.js';
import { FsStorage } from '../../src/lake/fs-storage.js';
import { ENOSPC_FAULT_ENV, UNIT_FAULT_ENV } from '../../src/lake/unit.js';

/**
 * The fault campaign for file ingest: a run killed (SIGKILL) at random moments and at every commit
 * step, failed by a full disk at random files, stopped by SIGTERM, or raced by a second writer, then
 * re-run with another --roll-mb, must leave exactly the event_id multiset of a clean run, with nothing
 * pending. `FAULT_CASES` sets the random kills (CI: 3; `npm run test:faults`: 20), `FAULT_SEED` the seed.
 */

const CASES = Number(process.env.FAULT_CASES ?? 3);
const SEED = Number(process.env.FAULT_SEED ?? 14);
const FIXTURES = ['fixtures/pgaudit/pg15.csv', 'fixtures/pgaudit/pg15.json', 'fixtures/pgaudit/pg15-rds.log'];

/** A small deterministic generator (mulberry32), so a failing case can be replayed by its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  ms: number;
}

/** Runs `auditlake ingest` in a child; `killAfterMs` sends `signal` that long after the start. */
function ingest(
  inputs: string[],
  lake: string,
  rollMb: string,
  env: Record<string, string> = {},
  killAfterMs?: number,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['bin/auditlake.js', 'ingest', ...inputs, '--out', lake, '--roll-mb', rollMb, '--json'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    // A negative delay counts from the moment the run holds the lake's lock (its signal handlers are set).
    let timer: NodeJS.Timeout | null = null;
    if (killAfterMs !== undefined && killAfterMs >= 0) timer = setTimeout(() => child.kill(signal), killAfterMs);
    if (killAfterMs !== undefined && killAfterMs < 0) {
      const poll = setInterval(() => {
        if (existsSync(join(lake, '_state/lock'))) {
          clearInterval(poll);
          timer = setTimeout(() => child.kill(signal), -killAfterMs);
        }
      }, 20);
      child.on('exit', () => clearInterval(poll));
    }
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal: sig, out, err, ms: Date.now() - started });
    });
  });
}

/** The lake's event ids with their multiplicity, sorted. */
async function multiset(lake: string): Promise<string> {
  const { rows } = await queryLake(lake, 'SELECT event_id, count(*) AS n FROM audit_events GROUP BY 1 ORDER BY 1');
  return (rows as { event_id: string; n: string }[]).map((r) => `${r.event_id}:${r.n}`).join('\n');
}

/** Nothing of an uncommitted unit may remain after a clean re-run. */
async function nothingPending(lake: string): Promise<void> {
  const storage = new FsStorage(lake);
  expect(await storage.list('_state/pending/')).toEqual([]);
  expect(await storage.list('_state/journal/')).toEqual([]);
  expect(await storage.list('_state/tmp/')).toEqual([]);
  expect(await storage.list('_state/lock')).toEqual([]);
}

describe('fault campaign: file ingest', () => {
  let dir: string;
  let inputs: string[];
  let clean: string;
  let cleanMs: number;
  const lakes: string[] = [];
  const newLake = async () => {
    const d = await mkdtemp(join(dir, 'lake-'));
    lakes.push(d);
    return d;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auditlake-faults-'));
    const log = await generateCsvlog(6, join(dir, 'volume.csv'));
    inputs = [log.path, ...FIXTURES];
    const lake = await newLake();
    const run = await ingest(inputs, lake, '1');
    expect(run.code, run.err).toBe(0);
    clean = await multiset(lake);
    cleanMs = run.ms;
    expect(clean.split('\n').length).toBeGreaterThan(1000);
    // The clean lake holds every record once.
    expect(clean.split('\n').every((l) => l.endsWith(':1'))).toBe(true);
  }, 300_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const rand = random(SEED);
  for (let n = 0; n < CASES; n++) {
    const at = rand();
    it(`kill -9 at a random moment (case ${n + 1}/${CASES}, seed ${SEED}, at ${(at * 100).toFixed(0)}% of a clean run), re-run with another --roll-mb`, async () => {
      const lake = await newLake();
      const killed = await ingest(inputs, lake, '0.25', {}, Math.round(400 + at * cleanMs));
      expect(killed.signal === 'SIGKILL' || killed.code === 0).toBe(true);
      const rerun = await ingest(inputs, lake, '3');
      expect(rerun.code, rerun.err).toBe(0);
      expect(await multiset(lake)).toBe(clean);
      await nothingPending(lake);
    }, 300_000);
  }

  for (const step of ['ingest-journal', 'ingest-moved-1', 'ingest-published']) {
    it(`kill -9 inside a commit at "${step}", re-run with another --roll-mb`, async () => {
      const lake = await newLake();
      const killed = await ingest(inputs, lake, '0.5', { [UNIT_FAULT_ENV]: step });
      expect(killed.signal).toBe('SIGKILL');
      const rerun = await ingest(inputs, lake, '2');
      expect(rerun.code, rerun.err).toBe(0);
      expect(await multiset(lake)).toBe(clean);
      await nothingPending(lake);
    }, 300_000);
  }

  it('disk full (ENOSPC injected at a random staged file): the input fails whole, the re-run completes', async () => {
    const lake = await newLake();
    const at = 1 + Math.floor(rand() * 6);
    const full = await ingest(inputs, lake, '0.5', { [ENOSPC_FAULT_ENV]: String(at) });
    expect(full.code).toBe(1);
    const summary = JSON.parse(full.out);
    const failed = summary.inputs.filter((i: { error: string | null }) => i.error);
    expect(failed).toHaveLength(1);
    expect(failed[0].error).toMatch(/ENOSPC/);
    // What the failed input read is not in the lake: the summary and the lake agree.
    const { rows } = await queryLake(lake, 'SELECT count(*) AS n FROM audit_events');
    expect(Number((rows[0] as { n: string }).n)).toBe(summary.events);
    const rerun = await ingest(inputs, lake, '2');
    expect(rerun.code, rerun.err).toBe(0);
    expect(await multiset(lake)).toBe(clean);
    await nothingPending(lake);
  }, 300_000);

  /** Mounts a tmpfs of `kb` KiB at `path` (root only); false where mounting is not allowed. */
  function mountTmpfs(path: string, kb: number, remount = false): boolean {
    try {
      execFileSync('mount', remount ? ['-o', `remount,size=${kb}k`, path] : ['-t', 'tmpfs', '-o', `size=${kb}k`, 'tmpfs', path], {
        stdio: 'ignore',
      });
      return true;
    } catch {
      return false;
    }
  }

  it.each([256, 1024, 1536])(
    'a real full disk (the lake on a %i KiB tmpfs): no input half-visible, the re-run on a larger disk completes',
    async (kb) => {
      const lake = join(dir, `tmpfs-${kb}`);
      await mkdir(lake);
      if (!mountTmpfs(lake, kb)) return; // not root, or no mount permission: the injected ENOSPC case stands in
      try {
        const full = await ingest(inputs, lake, '0.5');
        if (full.code === 0) return; // everything fit
        expect(full.code, full.err).toBe(1);
        const summary = JSON.parse(full.out);
        const failed = summary.inputs.filter((i: { error: string | null }) => i.error);
        expect(failed.length).toBeGreaterThan(0);
        for (const f of failed) expect(f.error).toMatch(/ENOSPC|No space left|not enough space|disk is full/i);
        // What the summary calls written is exactly what the lake shows; nothing of a failed input is visible.
        const { rows } = await queryLake(lake, 'SELECT count(*) AS n FROM audit_events');
        expect(Number((rows[0] as { n: string }).n)).toBe(summary.events);
        expect(mountTmpfs(lake, 256 * 1024, true)).toBe(true);
        const rerun = await ingest(inputs, lake, '2');
        expect(rerun.code, rerun.err).toBe(0);
        expect(await multiset(lake)).toBe(clean);
        await nothingPending(lake);
      } finally {
        execFileSync('umount', [lake], { stdio: 'ignore' });
      }
    },
    300_000,
  );

  it('SIGTERM: stops reading, rolls the current input back, prints the JSON summary, exits 143', async () => {
    const lake = await newLake();
    const stopped = await ingest(inputs, lake, '0.5', {}, -600, 'SIGTERM');
    if (stopped.code === 0) return; // finished before the signal on a fast machine: nothing to check
    expect(stopped.code, stopped.err).toBe(143);
    const summary = JSON.parse(stopped.out);
    expect(summary.stopped_by).toBe('SIGTERM');
    const { rows } = await queryLake(lake, 'SELECT count(*) AS n FROM audit_events');
    expect(Number((rows[0] as { n: string }).n)).toBe(summary.events);
    expect(await new FsStorage(lake).list('_state/lock')).toEqual([]);
    const rerun = await ingest(inputs, lake, '2');
    expect(rerun.code, rerun.err).toBe(0);
    expect(await multiset(lake)).toBe(clean);
    await nothingPending(lake);
  }, 300_000);

  it('two writers at once: one is refused with the holder named, nothing doubled', async () => {
    const lake = await newLake();
    const [a, b] = await Promise.all([ingest(inputs, lake, '0.5'), ingest(inputs, lake, '1')]);
    const refused = [a, b].filter((r) => r.code !== 0);
    expect(refused.length).toBeLessThanOrEqual(1);
    for (const r of refused) expect(r.err).toMatch(/is being written by another process: auditlake ingest \(pid \d+ on /);
    expect(await multiset(lake)).toBe(clean);
    await nothingPending(lake);
  }, 300_000);
});

describe('a lake on a read-only filesystem', () => {
  it('fails naming EROFS, not a missing folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'auditlake-ro-'));
    let mounted = false;
    try {
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', dir], { stdio: 'ignore' });
        mounted = true;
      } catch {
        return; // not root, or no mount permission
      }
      const run = await ingest(FIXTURES.slice(0, 1), join(dir, 'lake'), '1');
      expect(run.code).toBe(1);
      expect(run.err).toMatch(/EROFS: read-only file system, mkdir/);
    } finally {
      if (mounted) execFileSync('umount', [dir], { stdio: 'ignore' });
      await rm(dir, { recursive: true, force: true });
    }
  });
});
