/**
 * The two ways the lake writer hands events to DuckDB, through the real CLI on the same log: the staged
 * CSV (rows encoded as text, then `read_csv` + `COPY ... TO parquet`; the default) and the appender
 * (`AUDITLAKE_WRITER=append`: values appended into a DuckDB table per part, then `COPY` from it). Each
 * run is its own process, the order alternates per round, and each line gives CPU, wall time and peak
 * RSS (GNU time) with the appender's ratio to the staged CSV of the same round. Usage:
 *   npx tsx bench/ingest-designs.ts [--mb 50] [--rounds 2] [--heap-mb N]
 * `--heap-mb` runs both under `--max-old-space-size=N`, as a function of 4N MB runs (`src/lambda/heap.ts`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCsvlog } from './generate-csvlog.js';

type Writer = 'csv' | 'append';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

/** One ingest of `log` with `writer`, in its own process. */
function ingest(writer: Writer, log: string, heapMb: number): { cpu: number; wall: number; peakMb: number; events: number } {
  const lake = mkdtempSync(join(tmpdir(), 'auditlake-designs-'));
  try {
    const heap = heapMb > 0 ? [`--max-old-space-size=${heapMb}`] : [];
    const run = spawnSync(
      '/usr/bin/time',
      ['-f', '%U %S %e %M', process.execPath, ...heap, 'bin/auditlake.js', 'ingest', log, '--out', lake, '--json'],
      { encoding: 'utf8', env: { ...process.env, AUDITLAKE_WRITER: writer }, maxBuffer: 64 * 1024 * 1024 },
    );
    if (run.status !== 0) throw new Error(`${writer}: exit ${run.status}\n${run.stderr.slice(-2000)}`);
    const [user, sys, wall, kb] = (run.stderr.trim().split('\n').at(-1) as string).split(' ').map(Number);
    return { cpu: user + sys, wall, peakMb: kb / 1024, events: JSON.parse(run.stdout).events };
  } finally {
    rmSync(lake, { recursive: true, force: true });
  }
}

const log = await ensureCsvlog(flag('mb', 50));
const rounds = flag('rounds', 2);
const heapMb = flag('heap-mb', 0);
for (let r = 1; r <= rounds; r++) {
  const order: Writer[] = r % 2 === 1 ? ['csv', 'append'] : ['append', 'csv'];
  const results = Object.fromEntries(order.map((w) => [w, ingest(w, log.path, heapMb)])) as Record<Writer, ReturnType<typeof ingest>>;
  if (results.append.events !== results.csv.events) throw new Error(`events differ: ${results.csv.events} vs ${results.append.events}`);
  for (const w of ['csv', 'append'] as const) {
    const x = results[w];
    console.log(
      `round ${r} ${w.padEnd(6)} ${x.events} events: ${x.cpu.toFixed(1)} s CPU, ${x.wall.toFixed(1)} s wall, peak RSS ${x.peakMb.toFixed(0)} MB`,
    );
  }
  const ratio = (k: 'cpu' | 'peakMb') => (results.append[k] / results.csv[k]).toFixed(2);
  console.log(`round ${r} append / csv: CPU ${ratio('cpu')}x, peak RSS ${ratio('peakMb')}x`);
}
