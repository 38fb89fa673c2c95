import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  coverageReport,
  coverageSql,
  DEFAULT_AUDIT_ROLE,
  loadPolicies,
  type PgauditRoleScope,
  type Policy,
  PolicyLoadError,
  policySql,
  takeMembersSnapshot,
} from '../../policies/index.js';
import { type Command, EXIT, type Io, UsageError } from '../command.js';
import { formatTable } from '../format-table.js';
import { queryLake } from './query.js';

const HELP = `Usage: auditlake policy sql <dir|file> [--audit-role <name>] [--scope system|database]
       auditlake policy members --database-url <url> [--out <file>]
       auditlake policy coverage --lake <dir> --policies <dir|file> [--since <time>] [--until <time>] [--json]

Audit policies say once what must be audited (YAML, one policy or a list per file):
  id: audit-salaries
  table: public.employees        # schema-qualified
  columns: [salary, bonus]       # optional: SELECT, INSERT, UPDATE of these columns only
  operations: [SELECT]           # SELECT, INSERT, UPDATE, DELETE, TRUNCATE, or ALL
  outcome: any                   # any (default), or failed: only attempts that failed
  error_codes: ['42501']         # optional, with outcome failed: only these SQLSTATEs
  users: [carol]                 # optional: only these users
  roles: [external_contractor]   # optional: only members of these roles (policy members)

sql       prints the SQL that configures pgAudit object auditing for the policies: the audit role,
          its GRANTs (with column lists), pgaudit.role, and per-user pgaudit.log where a policy needs
          session logging. Idempotent; revokes what no current policy needs. Comments say which parts
          the server enforces and which only ingest can.
  --audit-role <name>     the audit role (default ${DEFAULT_AUDIT_ROLE}); used for nothing else
  --scope system|database pgaudit.role through ALTER SYSTEM (default) or ALTER DATABASE (RDS, Aurora)

members   writes a snapshot of role membership (pg_auth_members, transitive) as JSON, for
          auditlake ingest --policies ... --policy-members <file>. Take it again when membership changes.
  --database-url <url>    postgresql:// URL of the server (any user may read pg_auth_members)
  --out <file>            write the snapshot here (default: stdout)

coverage  per policy, the events the lake holds tagged with it in the period; policies with none
          are listed with 0, and ids in the lake that no current policy has are marked retired.
  --lake <dir>            lake root
  --policies <dir|file>   the current policies
  --since <time>          only events at or after this ISO-8601 time (e.g. 2026-11-01T00:00:00Z)
  --until <time>          only events before this ISO-8601 time
  --json                  print the report as JSON

Ingest tags events with the policies they satisfy: auditlake ingest --policies <dir> (see its --help).
Exit status: 0 ok, 1 failure (coverage: also when a policy has no events), 2 usage error.
`;

async function policiesFrom(path: string | undefined, option: string): Promise<Policy[]> {
  if (!path) throw new UsageError(`give the policies (${option})`);
  try {
    return await loadPolicies(path);
  } catch (e) {
    if (e instanceof PolicyLoadError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
}

function isoTime(value: string | undefined, option: string): string | undefined {
  if (value !== undefined && Number.isNaN(Date.parse(value))) throw new UsageError(`${option} ${value}: expected an ISO-8601 time`);
  return value;
}

async function sqlCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { 'audit-role': { type: 'string', default: DEFAULT_AUDIT_ROLE }, scope: { type: 'string', default: 'system' } },
  });
  if (positionals.length !== 1) throw new UsageError('give one policies folder or file');
  const role = values['audit-role'] as string;
  if (!/^[a-z_][a-z0-9_$]*$/.test(role)) throw new UsageError(`--audit-role ${role}: expected a lower-case SQL name`);
  const scope = values.scope as PgauditRoleScope;
  if (scope !== 'system' && scope !== 'database') throw new UsageError(`--scope ${scope}: expected system or database`);
  const policies = await policiesFrom(positionals[0], '<dir>');
  io.out(policySql(policies, { auditRole: role, scope, origin: positionals[0] }));
  return EXIT.ok;
}

async function membersCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: { 'database-url': { type: 'string' }, out: { type: 'string' } } });
  const url = values['database-url'];
  if (!url) throw new UsageError('give --database-url <url>');
  const snapshot = await takeMembersSnapshot(url);
  const text = `${JSON.stringify(snapshot, null, 2)}\n`;
  if (values.out) {
    await writeFile(values.out, text);
    io.err(`wrote ${Object.keys(snapshot.members).length} roles with members to ${values.out}\n`);
  } else io.out(text);
  return EXIT.ok;
}

async function coverageCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      lake: { type: 'string' },
      policies: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.lake) throw new UsageError('give --lake <dir>');
  const period = { since: isoTime(values.since, '--since'), until: isoTime(values.until, '--until') };
  const policies = await policiesFrom(values.policies, '--policies <dir>');
  const { rows } = await queryLake(values.lake, coverageSql(period));
  const report = coverageReport(policies, rows);
  const none = report.filter((r) => r.current && r.events === 0).map((r) => r.policy_id);
  if (values.json) {
    io.out(
      `${JSON.stringify({ since: period.since ?? null, until: period.until ?? null, policies: report, without_events: none }, null, 2)}\n`,
    );
  } else {
    const columns = ['policy_id', 'events', 'users', 'first_event', 'last_event', 'status'];
    const table = report.map((r) => ({ ...r, status: r.current ? (r.events === 0 ? 'NO EVENTS' : 'ok') : 'retired' }));
    io.out(`policy coverage ${period.since ?? 'from the start'} .. ${period.until ?? 'now'} (UTC)\n`);
    io.out(formatTable(columns, table));
    if (none.length > 0) io.out(`policies with no events: ${none.join(', ')}\n`);
  }
  return none.length > 0 ? EXIT.failed : EXIT.ok;
}

const SUBCOMMANDS: Record<string, (args: string[], io: Io) => Promise<number>> = {
  sql: sqlCommand,
  members: membersCommand,
  coverage: coverageCommand,
};

/** `auditlake policy`. */
export const policyCommand: Command = {
  name: 'policy',
  summary: 'audit policies as code: pgAudit SQL, role membership snapshot, coverage',
  help: HELP,
  async run(args, io) {
    const [sub, ...rest] = args;
    const run = sub ? SUBCOMMANDS[sub] : undefined;
    if (!run)
      throw new UsageError(
        sub ? `unknown subcommand ${sub}: expected sql, members or coverage` : 'give a subcommand: sql, members or coverage',
      );
    return run(rest, io);
  },
};
