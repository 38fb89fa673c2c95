import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GeneratedLog, generateCsvlog } from '../../bench/generate-csvlog.js';
import { heapMbFor } from '../../src/lambda/heap.js';
import { tempLake } from '../support/lake.js';

/**
 * A Lambda function of 512 MB must ingest a large log object without being killed. The CLI ingests a
 * generated csvlog in a child process with the heap the deployed functions get for 512 MB
 * (`heapMbFor`, `--max-old-space-size`) and DuckDB's own memory limit; its peak RSS (VmHWM, read from
 * /proc while it runs) must stay under 512 MB, and what it wrote must equal the generator's ground
 * truth. CI ingests 100 MiB; `INGEST_CAP_MB=1024` runs the 1 GiB case.
 */

const MB = Number(process.env.INGEST_CAP_MB ?? 100);
const FUNCTION_MB = 512;

interface Run {
  code: number | null;
  out: string;
  err: string;
  peakRssMb: number;
}

/** Runs `auditlake ingest` under a heap limit, polling the child's high-water RSS. */
function ingestCapped(input: string, lake: string, heapMb: number, nodeFlags: string[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [`--max-old-space-size=${heapMb}`, ...nodeFlags, 'bin/auditlake.js', 'ingest', input, '--out', lake, '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    let peakKb = 0;
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    // VmHWM is the process's own high-water mark: the last reading before it exits is its peak up to then.
    const poll = setInterval(async () => {
      try {
        const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
        const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
        peakKb = Math.max(peakKb, kb);
      } catch {
        // exited between readings
      }
    }, 50);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve({ code, out, err, peakRssMb: peakKb / 1024 });
    });
  });
}

describe(`ingest of a ${MB} MiB log in a ${FUNCTION_MB} MB function`, () => {
  let log: GeneratedLog;
  const path = join(tmpdir(), `auditlake-cap-${process.pid}-${MB}mb.csv`);

  beforeAll(async () => {
    log = await generateCsvlog(MB, path);
  }, 600_000);
  afterAll(() => rm(path, { force: true }));

  it('stays under the memory cap and writes every event of the ground truth', async () => {
    const lake = await tempLake();
    try {
      const run = await ingestCapped(log.path, lake.dir, heapMbFor(FUNCTION_MB));
      expect(run.code, run.err).toBe(0);
      const summary = JSON.parse(run.out);
      expect(summary.records).toBe(log.truth.records);
      expect(summary.events).toBe(log.truth.events);
      expect(summary.quarantined).toBe(0);
      expect(summary.events_by_source.pgaudit).toEqual(log.truth.byClass);
      // The whole process, DuckDB included, with room for a function's runtime.
      expect(run.peakRssMb).toBeGreaterThan(50);
      expect(run.peakRssMb).toBeLessThan(FUNCTION_MB);
      console.error(`ingest of ${MB} MiB under a ${heapMbFor(FUNCTION_MB)} MB heap: peak RSS ${run.peakRssMb.toFixed(0)} MB`);
    } finally {
      await lake.cleanup();
    }
  }, 1_800_000);

  it('keeps what it holds flat: the live heap does not grow with the input', async () => {
    // V8's own account after each full collection (--trace-gc, on stdout): the heap still in use. A
    // collector that kept a piece of each input chunk alive (a session key cut from it) grew it by about
    // 20 MB per 100 MB of csvlog.
    const lake = await tempLake();
    try {
      const run = await ingestCapped(log.path, lake.dir, heapMbFor(FUNCTION_MB), ['--trace-gc']);
      expect(run.code, run.err.slice(-2000)).toBe(0);
      const lines = run.out.split('\n');
      expect(JSON.parse(lines.filter((l) => l.startsWith('{')).at(-1) as string).events).toBe(log.truth.events);
      const live = lines.filter((l) => l.includes('Mark-Compact')).map((l) => Number(/-> ([\d.]+) \(/.exec(l)?.[1]));
      expect(live.length).toBeGreaterThan(8);
      const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
      const quarter = Math.floor(live.length / 4);
      const early = median(live.slice(quarter, 2 * quarter));
      const late = median(live.slice(-quarter));
      console.error(`live heap after full collections: ${early} MB early, ${late} MB late`);
      // The leak grew it ~20 MB per 100 MiB. What remains within one input is ~2 MB per 100 MiB (23 MB
      // over 1 GiB, released when the input ends; not yet found), so the bound is 8 MB or 5 per 100 MiB.
      expect(late - early).toBeLessThan(Math.max(8, (5 * MB) / 100));
    } finally {
      await lake.cleanup();
    }
  }, 1_800_000);
});
