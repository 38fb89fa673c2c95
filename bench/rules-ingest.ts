/**
 * `npm run bench:rules-ingest`: what the built-in rule pack costs ingest. In one run, interleaved,
 * `auditlake ingest` of the same generated csvlog with `--rules rules` and without, as child
 * processes; prints records/s of both, the cost of the pack (target: at most 15%), and checks both
 * runs wrote the same events. Flags: --mb N (default 50), --rounds N (default 3).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCsvlog } from './generate-csvlog.js';
import { median, runMeasured } from './lib/measure.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const mb = flag('mb', 50);
const rounds = flag('rounds', 3);
const log = await ensureCsvlog(mb);
const scratch = mkdtempSync(join(tmpdir(), 'auditlake-bench-rules-'));
const cwd = new URL('..', import.meta.url).pathname;
const rates: Record<'off' | 'on', number[]> = { off: [], on: [] };
let events: Record<'off' | 'on', number> = { off: 0, on: 0 };
let alerts = 0;

try {
  for (let r = 0; r < rounds; r++) {
    for (const mode of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const lake = join(scratch, `lake-${mode}-${r}`);
      const args = ['bin/auditlake.js', 'ingest', log.path, '--out', lake, '--json', ...(mode === 'on' ? ['--rules', 'rules'] : [])];
      const m = await runMeasured(process.execPath, args, { cwd, scratch });
      if (m.code !== 0) throw new Error(`ingest (${mode}) exited with ${m.code}: ${m.stderr.slice(-500)}`);
      const summary = JSON.parse(m.stdout);
      rates[mode].push(summary.records / m.wallS);
      events = { ...events, [mode]: summary.events };
      if (mode === 'on') alerts = summary.alerts;
      console.log(
        `round ${r + 1} rules ${mode.padEnd(3)}: ${m.wallS.toFixed(1)} s, ${Math.round(summary.records / m.wallS).toLocaleString('en-US')} records/s, peak ${Math.round(m.peakRssMb)} MB`,
      );
      rmSync(lake, { recursive: true, force: true });
    }
  }
  if (events.on !== events.off) throw new Error(`rules changed what was written: ${events.on} vs ${events.off} events`);
  const off = median(rates.off);
  const on = median(rates.on);
  const cost = 1 - on / off;
  console.log(
    `\ninput ${(log.bytes / 1e6).toFixed(0)} MB, ${events.off.toLocaleString('en-US')} events; built-in pack raised ${alerts} alerts`,
  );
  console.log(
    `without rules: ${Math.round(off).toLocaleString('en-US')} records/s; with the built-in pack: ${Math.round(on).toLocaleString('en-US')} records/s`,
  );
  console.log(`cost of the pack: ${(cost * 100).toFixed(1)}% of ingest throughput (target <= 15%: ${cost <= 0.15 ? 'PASS' : 'MISS'})`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
