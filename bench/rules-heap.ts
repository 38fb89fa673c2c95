/**
 * `npm run bench:rules-heap`: the memory the rules engine itself holds, without the noise of the lake
 * writer's DuckDB. Reads a generated csvlog through the pgAudit collector in this process, once without
 * rules and once through the built-in pack, in order and cut into 8 pieces read last first (event time
 * going backwards at every piece), and prints the largest V8 heap measured after a full GC every 20
 * batches, and the engine's state. The alerts are kept, as the rules stage keeps them for the lake's
 * `alerts/` table: what they hold on to (e.g. views into the input's text) counts. Run with
 * `node --expose-gc` (the script does). Flags: --mb N (default 50).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectFormat } from '../src/collectors/registry.js';
import { openFile } from '../src/pipeline/open-input.js';
import { type Alert, createRuleEngine, loadRules, type RuleEngine } from '../src/rules/index.js';
import { ensureCsvlog } from './generate-csvlog.js';
import { piecesReversed } from './lib/pieces.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run bench:rules-heap does)');
const i = process.argv.indexOf('--mb');
const mb = i === -1 ? 50 : Number(process.argv[i + 1]);
const log = await ensureCsvlog(mb);
const scratch = mkdtempSync(join(tmpdir(), 'auditlake-bench-heap-'));
const rules = await loadRules('rules');

async function measure(paths: string[], engine: RuleEngine | null): Promise<number> {
  const kept: Alert[] = [];
  let peak = 0;
  let n = 0;
  for (const path of paths) {
    const input = await openFile(path);
    const picked = detectFormat(input.head);
    if (!picked) throw new Error(`${path}: not a csvlog`);
    for await (const batch of picked.collector.collect(input, picked.format, { ingestTime: 0, batchSize: 2048, options: {} })) {
      if (engine) kept.push(...engine.process(batch.events, path));
      if (++n % 20 === 0) {
        gc?.();
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }
    }
  }
  if (engine) kept.push(...engine.flush());
  gc?.();
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  // Read after the last measurement, so the alerts are live through it.
  if (kept.length !== (engine?.stats().alerts ?? 0))
    throw new Error(`kept ${kept.length} alerts, the engine raised ${engine?.stats().alerts}`);
  return peak / 1e6;
}

try {
  const dir = join(scratch, 'pieces');
  await piecesReversed(log.path, log.bytes, dir);
  const arrangements: [string, string[]][] = [
    ['in order', [log.path]],
    [
      'out of order',
      readdirSync(dir)
        .sort()
        .map((f) => join(dir, f)),
    ],
  ];
  console.log(`input ${(log.bytes / 1e6).toFixed(0)} MB`);
  for (const [name, paths] of arrangements) {
    const off = await measure(paths, null);
    const engine = createRuleEngine(rules);
    const on = await measure(paths, engine);
    const s = engine.stats();
    const groups = Object.values(s.rules).reduce((n, r) => n + r.groups, 0);
    console.log(
      `${name.padEnd(12)}: heap ${off.toFixed(0)} MB without rules, ${on.toFixed(0)} MB with the built-in pack (+${(on - off).toFixed(0)} MB); ${s.alerts} streamed alerts, ${s.late.toLocaleString('en-US')} late events for the catch-up, ${s.forced} released early, ${groups} groups held at the end`,
    );
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
