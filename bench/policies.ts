/**
 * Policy tagging throughput: the example policies (policies/) over synthetic pgAudit-shaped events,
 * on the pure path (no parsing, no Parquet). In the same run it measures the staging CSV encoder,
 * the per-event work every ingest already does, as the peer: the ratio says what tagging adds.
 *
 *   npx tsx bench/policies.ts [events=1000000]
 */
import { stagingRow } from '../src/lake/staging-row.js';
import { createPoliciesStage } from '../src/pipeline/policies-stage.js';
import { createPolicyMatcher, loadPolicies } from '../src/policies/index.js';
import { defaultEvent } from '../src/rules/rule-tests.js';
import { type AuditEvent, NO_POLICY_IDS, newBatch } from '../src/schema/index.js';

const total = Number(process.argv[2] ?? 1_000_000);
const BATCH = 2048;
const USERS = ['app', 'app', 'app', 'carol', 'dave', 'erin'];
const SHAPES: Partial<AuditEvent>[] = [
  {
    event_class: 'READ',
    command: 'SELECT',
    object_name: 'public.orders',
    statement_text: 'SELECT id, item FROM public.orders WHERE id = $1',
  },
  { event_class: 'READ', command: 'SELECT', object_name: 'public.employees', statement_text: 'SELECT name, salary FROM public.employees' },
  {
    event_class: 'WRITE',
    command: 'UPDATE',
    object_name: 'public.orders',
    statement_text: 'UPDATE public.orders SET item = $1 WHERE id = $2',
  },
  { event_class: 'WRITE', command: 'DELETE', object_name: 'public.orders', statement_text: 'DELETE FROM public.orders WHERE id = $1' },
  {
    event_class: 'READ',
    command: 'SELECT',
    object_name: 'public.confidential_data',
    statement_text: 'SELECT doc FROM public.confidential_data',
  },
  { event_class: 'CONNECT', command: 'CONNECT' },
  {
    event_class: 'ERROR',
    success: false,
    error_code: '42501',
    error_message: 'permission denied for table sensitive_data',
    statement_text: 'SELECT secret FROM public.sensitive_data',
  },
];

const events: AuditEvent[] = [];
for (let i = 0; i < total; i++)
  events.push({ ...defaultEvent(`e${i}`, 1_700_000_000_000_000 + i), ...SHAPES[i % SHAPES.length], db_user: USERS[i % USERS.length] });
const batches: AuditEvent[][] = [];
for (let i = 0; i < total; i += BATCH) batches.push(events.slice(i, i + BATCH));

const policies = await loadPolicies(new URL('../policies', import.meta.url).pathname);
const stage = createPoliciesStage(
  createPolicyMatcher(policies, { taken_at: '', server: '', members: { external_contractor: ['erin'] } }),
  'tag',
);

function time(run: () => void): number {
  const start = performance.now();
  run();
  return (performance.now() - start) / 1000;
}

let bytes = 0;
const encode = () => {
  for (const b of batches) for (const e of b) bytes += stagingRow(e).length;
};
let tagged = 0;
const tag = () => {
  for (const b of batches) {
    for (const e of b) e.policy_ids = NO_POLICY_IDS;
    const batch = { ...newBatch(), events: b };
    stage(batch);
    for (const e of b) if (e.policy_ids.length > 0) tagged++;
  }
};
encode();
tag(); // warm up both
const rounds = 3;
let encodeS = 0;
let tagS = 0;
for (let r = 0; r < rounds; r++) {
  encodeS += time(encode);
  tagS += time(tag);
}
const rate = (s: number) => Math.round((total * rounds) / s).toLocaleString('en-US');
console.log(`${total.toLocaleString('en-US')} events, ${policies.length} policies, ${rounds} rounds interleaved`);
console.log(`  staging CSV encoder (peer): ${rate(encodeS)} events/s`);
console.log(`  policy tagging:             ${rate(tagS)} events/s (${((tagged / (rounds + 1) / total) * 100).toFixed(0)}% tagged)`);
console.log(
  `  tagging costs ${(tagS / encodeS).toFixed(2)}x the encoder's time per event (${Math.round(bytes / (rounds + 1) / 1e6)} MB encoded per round)`,
);
