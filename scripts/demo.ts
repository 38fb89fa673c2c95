import { rm } from 'node:fs/promises';
import { CLUSTER_ID } from '../fixtures/das/sample-records.js';
import type { Io } from '../src/cli/command.js';
import { runCli } from '../src/cli/main.js';
import { startKmsServer } from '../test/support/kms-server.js';

/**
 * `npm run demo`: ingests the fixtures of every source into ./lake with the built-in alert rules, and
 * asks the questions users ask first. No AWS account: the DAS records are decrypted through a local
 * KMS-protocol endpoint holding the fixtures' test key, reached by the real AWS SDK.
 *
 * - pgAudit: the csvlog of one real PostgreSQL 15 + pgAudit server (the same activity is also in
 *   fixtures/pgaudit as jsonlog, RDS stderr and CloudWatch payloads; each gives the same events);
 * - Aurora Database Activity Streams: records as Aurora writes them (KMS data key, ESDK, gzip);
 * - the recording proxy: the events it wrote for a workload run through it.
 */
const LAKE = 'lake';
const io: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), tty: false };

const QUERIES: [string, string][] = [
  [
    'Failed logins by source, user and client',
    `SELECT source, db_user, client_addr, error_code, count(*) AS attempts
     FROM audit_events WHERE event_class = 'AUTH_FAILURE'
     GROUP BY ALL ORDER BY attempts DESC, source, db_user`,
  ],
  [
    'Activity by user, across every source',
    `SELECT db_user, count(*) FILTER (WHERE event_class = 'READ') AS reads, count(*) FILTER (WHERE event_class = 'WRITE') AS writes,
            count(*) FILTER (WHERE event_class IN ('DDL', 'ROLE')) AS changes, count(*) FILTER (WHERE NOT success) AS failures,
            string_agg(DISTINCT source, ',' ORDER BY source) AS seen_by
     FROM audit_events WHERE db_user IS NOT NULL GROUP BY db_user ORDER BY db_user`,
  ],
  [
    'Role and privilege changes',
    `SELECT event_time, source, db_user, command, statement_text
     FROM audit_events WHERE event_class = 'ROLE' AND coalesce(audit_type, 'SESSION') = 'SESSION'
     ORDER BY event_time LIMIT 12`,
  ],
  [
    'Alerts the built-in rules raised',
    `SELECT rule_id, severity, count(*) AS alerts, min(alert_time) AS first, any_value(group_key) AS example_group
     FROM audit_alerts WHERE NOT superseded GROUP BY rule_id, severity ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, rule_id`,
  ],
];

async function run(...argv: string[]): Promise<void> {
  console.log(`\n$ auditlake ${argv.map((a) => (/\s/.test(a) ? JSON.stringify(a.replace(/\s+/g, ' ')) : a)).join(' ')}`);
  const code = await runCli(argv, io);
  if (code !== 0) process.exit(code);
}

await rm(LAKE, { recursive: true, force: true });
const kms = await startKmsServer({ keyFile: 'fixtures/das/kms-keys.json' });
process.env.AWS_ENDPOINT_URL_KMS = kms.url;
process.env.AWS_REGION ??= 'us-east-1';
// The demo runs on any Node >= 20; the SDK's notice about Node 22 is for deployments (Lambda runs nodejs22.x).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.AWS_ACCESS_KEY_ID ??= 'demo';
process.env.AWS_SECRET_ACCESS_KEY ??= 'demo';
try {
  await run(
    'ingest',
    'fixtures/pgaudit/pg15.csv',
    'fixtures/das/aurora-pg.jsonl',
    'fixtures/proxy/sessions.jsonl',
    '--das-resource-id',
    CLUSTER_ID,
    '--out',
    LAKE,
    '--rules',
    'rules',
  );
} finally {
  await kms.stop();
}
for (const [title, sql] of QUERIES) {
  console.log(`\n== ${title}`);
  await run('query', '--lake', LAKE, sql);
}
console.log('\n== Sessions recorded by the proxy');
await run('sessions', '--lake', LAKE, '--source', 'proxy');
console.log(`\nThe lake is in ./${LAKE}. Try:
  npm run auditlake -- sessions --lake ${LAKE} <session_id>
  npm run auditlake -- query --lake ${LAKE} "SELECT * FROM audit_events LIMIT 5"
  npm run auditlake -- hunt --lake ${LAKE} rules`);
