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
const LIVE_HEAP = './test/support/live-heap.mjs';

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
  afterAll(async () => {
    await rm(path, { force: true });
    await rm(`${path}.truth.json`, { force: true });
  });

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

  it('keeps what it holds flat: the live heap does not grow when the input doubles', async () => {
    // The heap still in use after a forced full collection, sampled while the input is read, on this log
    // and on one twice its size. A collector that kept a piece of each input chunk alive (a session key
    // cut from it) grew it by about 20 MB per 100 MB of csvlog. What is alive rises over the first ~70 MB
    // (per-session state of a log whose sessions keep starting) and then stays: 39.4 MB in the second and
    // in the last quarter of a 1 GiB input. So the end of each run is compared, not two points of one.
    const doubledPath = join(tmpdir(), `auditlake-cap-${process.pid}-${2 * MB}mb.csv`);
    const lake = await tempLake();
    try {
      const doubled = await generateCsvlog(2 * MB, doubledPath);
      const lateLiveHeap = async (input: GeneratedLog): Promise<number> => {
        await rm(lake.dir, { recursive: true, force: true });
        const run = await ingestCapped(input.path, lake.dir, heapMbFor(FUNCTION_MB), ['--expose-gc', '--import', LIVE_HEAP]);
        expect(run.code, run.err.slice(-2000)).toBe(0);
        expect(JSON.parse(run.out).events).toBe(input.truth.events);
        const live = [...run.err.matchAll(/live_heap_bytes=(\d+)/g)].map((m) => Number(m[1]) / 2 ** 20);
        expect(live.length).toBeGreaterThan(8);
        const last = live.slice(-Math.floor(live.length / 4)).sort((x, y) => x - y);
        return last[Math.floor(last.length / 2)];
      };
      const single = await lateLiveHeap(log);
      const twice = await lateLiveHeap(doubled);
      console.error(
        `live heap late in the input (forced full collections): ${single.toFixed(1)} MB at ${MB} MiB, ${twice.toFixed(1)} MB at ${2 * MB} MiB`,
      );
      expect(twice - single).toBeLessThan(8);
    } finally {
      await rm(doubledPath, { force: true });
      await rm(`${doubledPath}.truth.json`, { force: true });
      await lake.cleanup();
    }
  }, 1_800_000);
});
