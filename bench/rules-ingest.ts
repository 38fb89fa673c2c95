/**
 * `npm run bench:rules-ingest`: what the built-in pack costs a whole ingest, as child processes: records/s
 * and peak RSS (GNU time's maximum resident set) with and without `--rules rules`, on a generated csvlog
 * read in order and cut into 8 pieces read last first (event time going backwards at every piece).
 * Rounds alternate the order of the two runs; figures are medians. Flags: --mb N (default 50), --rounds N
 * (default 3), --flat (the same again on a log of 2N MB: the cost must not grow with the input).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCsvlog } from './generate-csvlog.js';
import { median, runMeasured } from './lib/measure.js';
import { piecesReversed } from './lib/pieces.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

type Mode = 'off' | 'on';
type Order = 'in order' | 'out of order';
interface Run {
  rate: number;
  rssMb: number;
  events: number;
  current: number;
  late: number;
  caughtUp: number;
}

const mb = flag('mb', 50);
const rounds = flag('rounds', 3);
/** With --flat the whole comparison runs again on a log twice as long: the rules' memory must not grow with the input. */
const sizes = process.argv.includes('--flat') ? [mb, 2 * mb] : [mb];
const budgetMb = 50;
const cwd = new URL('..', import.meta.url).pathname;
const costs: { size: number; order: Order; rss: number }[] = [];
const signed = (n: number) => `${n < 0 ? '' : '+'}${Math.round(n)}`;

for (const size of sizes) await compare(size);
if (sizes.length > 1) {
  for (const order of ['in order', 'out of order'] as const) {
    const [a, b] = costs.filter((c) => c.order === order);
    console.log(
      `${order}: rules cost ${signed(a.rss)} MB at ${a.size} MB of log, ${signed(b.rss)} MB at ${b.size} MB (growth ${signed(b.rss - a.rss)} MB; flat within the budget: ${b.rss <= budgetMb && b.rss - a.rss <= budgetMb / 2 ? 'PASS' : 'MISS'})`,
    );
  }
}

async function compare(size: number): Promise<void> {
  const log = await ensureCsvlog(size);
  const scratch = mkdtempSync(join(tmpdir(), 'auditlake-bench-rules-'));
  const runs = new Map<string, Run[]>();
  try {
    const shuffled = join(scratch, 'out-of-order');
    await piecesReversed(log.path, log.bytes, shuffled);
    const inputs: Record<Order, string> = { 'in order': log.path, 'out of order': shuffled };
    for (let r = 0; r < rounds; r++) {
      for (const order of ['in order', 'out of order'] as const) {
        for (const mode of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
          const lake = join(scratch, `lake-${mode}-${r}`);
          const args = [
            'bin/auditlake.js',
            'ingest',
            inputs[order],
            '--out',
            lake,
            '--json',
            ...(mode === 'on' ? ['--rules', 'rules'] : []),
          ];
          const m = await runMeasured(process.execPath, args, { cwd, scratch });
          if (m.code !== 0) throw new Error(`ingest (${order}, rules ${mode}) exited with ${m.code}: ${m.stderr.slice(-500)}`);
          const s = JSON.parse(m.stdout);
          const run: Run = {
            rate: s.records / m.wallS,
            rssMb: m.peakRssMb,
            events: s.events,
            current: s.alerts - (s.rules?.superseded_alerts ?? 0),
            late: s.rules?.late_events ?? 0,
            caughtUp: s.rules?.caught_up_alerts ?? 0,
          };
          const key = `${order}/${mode}`;
          runs.set(key, [...(runs.get(key) ?? []), run]);
          console.log(
            `${size} MB round ${r + 1} ${order.padEnd(12)} rules ${mode.padEnd(3)}: ${m.wallS.toFixed(1)} s, ${Math.round(run.rate).toLocaleString('en-US')} records/s, peak ${Math.round(run.rssMb)} MB${mode === 'on' ? `, ${run.current} alerts (${run.late.toLocaleString('en-US')} late events, ${run.caughtUp} caught up)` : ''}`,
          );
          rmSync(lake, { recursive: true, force: true });
        }
      }
    }
    const pick = (order: Order, mode: Mode) => runs.get(`${order}/${mode}`) ?? [];
    const events = new Set([...runs.values()].flat().map((x) => x.events));
    if (events.size !== 1) throw new Error(`runs wrote different event counts: ${[...events].join(', ')}`);
    const alerts = new Set([...pick('in order', 'on'), ...pick('out of order', 'on')].map((x) => x.current));
    console.log(
      `\ninput ${(log.bytes / 1e6).toFixed(0)} MB, ${[...events][0].toLocaleString('en-US')} events; built-in pack: ${[...alerts].join(' / ')} alerts`,
    );
    if (alerts.size !== 1) console.log('MISMATCH: the out-of-order arrangement ended with different alerts');
    for (const order of ['in order', 'out of order'] as const) {
      const off = median(pick(order, 'off').map((x) => x.rate));
      const on = median(pick(order, 'on').map((x) => x.rate));
      const rssOff = median(pick(order, 'off').map((x) => x.rssMb));
      const rssOn = median(pick(order, 'on').map((x) => x.rssMb));
      const cost = 1 - on / off;
      const rss = rssOn - rssOff;
      costs.push({ size, order, rss });
      console.log(
        `${order}: ${Math.round(off).toLocaleString('en-US')} -> ${Math.round(on).toLocaleString('en-US')} records/s, cost ${(cost * 100).toFixed(1)}% (target <= 15%: ${cost <= 0.15 ? 'PASS' : 'MISS'}); peak RSS ${Math.round(rssOff)} -> ${Math.round(rssOn)} MB, ${signed(rss)} MB, ${((rss / budgetMb) * 100).toFixed(0)}% of the ${budgetMb} MB budget (${rss <= budgetMb ? 'PASS' : 'MISS'})`,
      );
    }
    console.log('');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
