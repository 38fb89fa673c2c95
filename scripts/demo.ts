import { rm } from 'node:fs/promises';
import type { Io } from '../src/cli/command.js';
import { runCli } from '../src/cli/main.js';

/**
 * `npm run demo`: ingests the fixture logs into ./lake and asks the questions users ask first.
 * The fixtures are one real PostgreSQL 15 + pgAudit server's logs; the demo reads its csvlog (a
 * self-managed server) and the CloudWatch payload of its stderr log (how RDS/Aurora deliver it).
 */
const LAKE = 'lake';
const INPUTS = [
  'fixtures/pgaudit/pg15.csv',
  'fixtures/pgaudit/pg15-rds.cloudwatch.json',
  'fixtures/pgaudit/control-message.cloudwatch.json.gz',
];

const io: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), tty: false };

const QUERIES: [string, string][] = [
  [
    'Failed logins by user and client',
    `SELECT db_user, client_addr, error_code, count(*) AS attempts, max(event_time) AS last_attempt
     FROM audit_events WHERE event_class = 'AUTH_FAILURE' AND source_format = 'csvlog'
     GROUP BY ALL ORDER BY attempts DESC, db_user`,
  ],
  [
    'Activity by user',
    `SELECT db_user, count(*) FILTER (WHERE event_class = 'READ') AS reads, count(*) FILTER (WHERE event_class = 'WRITE') AS writes,
            count(*) FILTER (WHERE event_class IN ('DDL', 'ROLE')) AS changes, count(*) FILTER (WHERE NOT success) AS failures
     FROM audit_events WHERE source_format = 'csvlog' AND db_user IS NOT NULL GROUP BY db_user ORDER BY db_user`,
  ],
  [
    'DDL and role changes',
    `SELECT event_time, db_user, command, coalesce(object_name, '') AS object, statement_text
     FROM audit_events WHERE event_class IN ('DDL', 'ROLE') AND source_format = 'csvlog' AND audit_type = 'SESSION'
     ORDER BY event_time, statement_id, substatement_id LIMIT 15`,
  ],
  [
    'The same failed logins as RDS delivers them through CloudWatch',
    `SELECT source_format, cluster_id, instance_id, count(*) AS failed_logins FROM audit_events
     WHERE event_class = 'AUTH_FAILURE' GROUP BY ALL ORDER BY ALL`,
  ],
];

await rm(LAKE, { recursive: true, force: true });
console.log(`$ auditlake ingest ${INPUTS.join(' ')} --out ${LAKE}`);
const code = await runCli(['ingest', ...INPUTS, '--out', LAKE], io);
if (code !== 0) process.exit(code);
for (const [title, sql] of QUERIES) {
  console.log(`\n== ${title}\n$ auditlake query --lake ${LAKE} "${sql.replace(/\s+/g, ' ')}"`);
  const q = await runCli(['query', '--lake', LAKE, sql], io);
  if (q !== 0) process.exit(q);
}
console.log(`\nThe lake is in ./${LAKE}; try: npm run auditlake -- query --lake ${LAKE} "SELECT * FROM audit_events LIMIT 5"`);
