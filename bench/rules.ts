/**
 * Rule evaluation throughput: the whole built-in pack over synthetic events with a realistic mix
 * (mostly reads and writes of an application, some logins, a trickle of failures, DDL and role
 * changes), on the pure evaluation path (no parsing, no Parquet). Prints events/s of a baseline pass
 * that only touches every event, and of the engine with all rules, in the same run.
 *
 *   npx tsx bench/rules.ts [events=1000000] [batch=8192]
 */
import { createRuleEngine } from '../src/rules/engine.js';
import { loadRules } from '../src/rules/load.js';
import { defaultEvent } from '../src/rules/rule-tests.js';
import type { AuditEvent } from '../src/schema/index.js';

const total = Number(process.argv[2] ?? 1_000_000);
const batchSize = Number(process.argv[3] ?? 8192);

const USERS = ['app', 'app', 'app', 'app', 'reporting', 'etl', 'alice', 'bob', 'intern', 'postgres'];
const ADDRS = ['10.0.1.10', '10.0.1.11', '10.0.1.12', '10.0.2.20', '203.0.113.7'];
const TABLES = ['public.orders', 'public.order_items', 'public.customers', 'public.products', 'public.payroll', 'hr.salaries'];
type Mix = [number, Partial<AuditEvent>];
const MIX: Mix[] = [
  [55, { event_class: 'READ', command: 'SELECT', statement_text: 'SELECT id, total FROM orders WHERE customer_id = $1', row_count: 12 }],
  [25, { event_class: 'WRITE', command: 'UPDATE', statement_text: 'UPDATE orders SET status = $1 WHERE id = $2', row_count: 1 }],
  [8, { event_class: 'WRITE', command: 'INSERT', statement_text: 'INSERT INTO order_items VALUES ($1, $2, $3)', row_count: 1 }],
  [4, { event_class: 'CONNECT', command: null }],
  [4, { event_class: 'DISCONNECT', command: null }],
  [1.5, { event_class: 'AUTH_FAILURE', success: false, error_code: '28P01' }],
  [0.5, { event_class: 'ERROR', success: false, error_code: '42501' }],
  [0.5, { event_class: 'READ', command: 'COPY', statement_text: 'COPY customers TO STDOUT' }],
  [0.5, { event_class: 'WRITE', command: 'DELETE', statement_text: 'DELETE FROM sessions' }],
  [0.3, { event_class: 'DDL', command: 'DROP TABLE', statement_text: 'DROP TABLE tmp_import' }],
  [0.2, { event_class: 'ROLE', command: 'GRANT', statement_text: 'GRANT pg_read_all_data TO reporting' }],
];

function synthesize(n: number): AuditEvent[] {
  const weights = MIX.reduce((s, [w]) => s + w, 0);
  let seed = 42;
  const random = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const start = Date.UTC(2024, 4, 6, 0, 0) * 1000;
  const events: AuditEvent[] = new Array(n);
  for (let i = 0; i < n; i++) {
    let pick = random() * weights;
    let template = MIX[0][1];
    for (const [w, t] of MIX) {
      pick -= w;
      if (pick <= 0) {
        template = t;
        break;
      }
    }
    // ~12 events/s over a day, arriving up to 2 s out of order.
    const time = start + Math.floor((i / n) * 86_400_000_000) - Math.floor(random() * 2_000_000);
    events[i] = {
      ...defaultEvent(`ev${i.toString(16).padStart(12, '0')}`, time),
      ...template,
      db_user: USERS[Math.floor(random() * USERS.length)],
      client_addr: ADDRS[Math.floor(random() * ADDRS.length)],
      object_name: TABLES[Math.floor(random() * TABLES.length)],
      database_name: 'shop',
    } as AuditEvent;
  }
  return events;
}

function batches(events: AuditEvent[]): AuditEvent[][] {
  const out: AuditEvent[][] = [];
  for (let i = 0; i < events.length; i += batchSize) out.push(events.slice(i, i + batchSize));
  return out;
}

const rules = await loadRules(new URL('../rules', import.meta.url).pathname);
const events = synthesize(total);
const input = batches(events);

function baseline(): number {
  // Touch every event the way the engine's outer loop does, without rules.
  let sink = 0;
  for (const batch of input) for (const e of batch) if (e.event_time > sink) sink = e.event_time;
  return sink;
}

function withRules(): number {
  const engine = createRuleEngine(rules, { lateness: '1m' });
  let alerts = 0;
  for (const batch of input) alerts += engine.process(batch).length;
  alerts += engine.flush().length;
  return alerts;
}

function time(fn: () => number): { ms: number; result: number } {
  const t0 = performance.now();
  const result = fn();
  return { ms: performance.now() - t0, result };
}

const rate = (ms: number) => Math.round(total / (ms / 1000)).toLocaleString('en-US');
const runs: { base: number; rules: number; alerts: number }[] = [];
for (let r = 0; r < 3; r++) {
  const b = time(baseline);
  const w = time(withRules);
  runs.push({ base: b.ms, rules: w.ms, alerts: w.result });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(runs.map((r) => r.base));
const evald = median(runs.map((r) => r.rules));
const engine = createRuleEngine(rules, { lateness: '1m' });
for (const batch of input) engine.process(batch);
engine.flush();
const stats = engine.stats();
console.log(`rules: ${rules.length} built-in rules, ${total.toLocaleString('en-US')} events, batches of ${batchSize}, median of 3`);
console.log(`  without rules (touch each event): ${rate(base)} events/s`);
console.log(
  `  with the built-in pack:           ${rate(evald)} events/s (${((evald / total) * 1000).toFixed(2)} µs/event), ${runs[0].alerts} alerts`,
);
console.log(
  `  state after run: groups ${Object.values(stats.rules).reduce((n, s) => n + s.groups, 0)}, late ${stats.late}, peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`,
);
