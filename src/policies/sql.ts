import { type Operation, type Policy, splitTable } from './policy-schema.js';

/**
 * `auditlake policy sql`: the SQL that configures pgAudit object auditing for a policy set. It is
 * idempotent (a second run changes nothing) and converges: privileges and per-user settings no
 * current policy needs are removed.
 *
 * How it recognizes its own: the audit role exists for pgAudit alone (NOLOGIN, created here, its
 * comment says so), so every table and column privilege it holds is one a policy put there; any not
 * wanted now is revoked. The users given per-user session logging are listed in the audit role's
 * comment (`session_logging=...`); a user dropped from that list gets `pgaudit.log` reset.
 */

/** Where `pgaudit.role` is set. */
export type PgauditRoleScope = 'system' | 'database';

export interface PolicySqlOptions {
  /** Name of the audit role (default `auditlake_auditor`). */
  auditRole: string;
  /** `system`: ALTER SYSTEM + reload (self-managed servers); `database`: ALTER DATABASE of the current database (RDS, Aurora). */
  scope: PgauditRoleScope;
  /** Shown in the header: where the policies came from. */
  origin?: string;
}

export const DEFAULT_AUDIT_ROLE = 'auditlake_auditor';

/** pgAudit object auditing covers these; TRUNCATE can only be session-logged (class WRITE). */
const OBJECT_AUDITED: ReadonlySet<Operation> = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE']);

/** Double-quotes an identifier. */
export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;
/** Single-quotes a literal. */
export const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;
const qualified = (table: string) => {
  const { schema, name } = splitTable(table);
  return `${ident(schema)}.${ident(name)}`;
};
const array = (items: string[]) => (items.length === 0 ? "'{}'::text[]" : `ARRAY[${items.map(literal).join(', ')}]::text[]`);

/** One privilege the audit role must hold: on the whole table, or on some columns. */
interface Grant {
  table: string;
  privilege: Operation;
  columns: string[] | null;
}

/** The grants a set of policies needs, merged per table and privilege (a whole-table grant wins). */
export function grantsFor(policies: readonly Policy[]): Grant[] {
  const byKey = new Map<string, Grant>();
  for (const p of policies) {
    if (p.outcome === 'failed') continue;
    for (const op of p.operations) {
      if (!OBJECT_AUDITED.has(op)) continue;
      const key = `${p.table}:${op}`;
      const had = byKey.get(key);
      const columns = p.columns ?? null;
      if (!had) byKey.set(key, { table: p.table, privilege: op, columns: columns ? [...columns] : null });
      else if (had.columns && columns) had.columns = [...new Set([...had.columns, ...columns])];
      else had.columns = null;
    }
  }
  return [...byKey.values()].sort((a, b) => (a.table + a.privilege < b.table + b.privilege ? -1 : 1));
}

function grantSql(g: Grant, role: string): string {
  const cols = g.columns ? ` (${[...g.columns].sort().map(ident).join(', ')})` : '';
  return `GRANT ${g.privilege}${cols} ON ${qualified(g.table)} TO ${ident(role)};`;
}

const needsSessionLogging = (p: Policy) => p.outcome === 'any' && p.operations.includes('TRUNCATE');

/** What the server does and what only ingest can do, for one policy, as comment lines. */
export function enforcement(p: Policy, role: string): { server: string[]; ingest: string[] } {
  const server: string[] = [];
  const ingest: string[] = [];
  const objectOps = p.operations.filter((op) => OBJECT_AUDITED.has(op));
  if (p.outcome === 'failed') {
    server.push('failed attempts are logged as ERROR lines with their statement (log_min_error_statement = error);');
    server.push('pgAudit itself logs no statement that fails a permission check, so no grant is made');
    ingest.push(
      `tags ERROR events of ${p.operations.join('/')} naming ${p.table}${p.error_codes ? ` with SQLSTATE ${p.error_codes.join('/')}` : ''}`,
    );
  } else {
    if (objectOps.length > 0) {
      const cols = p.columns ? ` touching ${p.columns.join(', ')}` : '';
      server.push(`pgAudit logs an OBJECT line for every ${objectOps.join('/')} of ${p.table}${cols}, by any user (grants to ${role})`);
    }
    if (p.operations.includes('TRUNCATE')) {
      if (p.users || p.roles) server.push('TRUNCATE: session logging (pgaudit.log = write) for the users below; it logs all their writes');
      else
        ingest.push(
          'TRUNCATE by any user: NOT configured, pgAudit can log it only by session-logging every write (set pgaudit.log = write yourself); ingest tags what is logged',
        );
    }
    ingest.push('tags the events and, with --policy-mode only, drops what no policy selects');
  }
  if (p.users) ingest.push(`only users ${p.users.join(', ')}: pgAudit object logging cannot tell users apart`);
  if (p.roles) ingest.push(`only members of ${p.roles.join(', ')}: from the members snapshot (auditlake policy members)`);
  if (p.columns && p.outcome === 'failed') ingest.push(`columns ${p.columns.join(', ')}: from the statement text`);
  return { server, ingest };
}

function header(policies: readonly Policy[], o: PolicySqlOptions): string {
  return `-- pgAudit object auditing for ${policies.length} audit ${policies.length === 1 ? 'policy' : 'policies'}${o.origin ? ` (${o.origin})` : ''}.
-- Generated by auditlake policy sql. Run it as a superuser (rds_superuser on RDS/Aurora) connected to the
-- database whose tables the policies name, e.g. psql -v ON_ERROR_STOP=1 -f policies.sql.
-- Idempotent: running it again changes nothing. It converges: privileges of the audit role and per-user
-- session logging that no current policy needs are removed. Its own are recognized by the audit role:
-- ${o.auditRole} exists for pgAudit alone, so every privilege it holds is one a policy put there, and
-- the users it gave session logging are listed in the role's comment.
`;
}

function roleSql(o: PolicySqlOptions): string {
  return `-- The audit role: NOLOGIN, never granted to anyone; pgAudit logs what it would be allowed to do.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(o.auditRole)}) THEN
    CREATE ROLE ${ident(o.auditRole)} NOLOGIN;
  END IF;
END $$;
`;
}

function revokeSql(grants: Grant[], o: PolicySqlOptions): string {
  const tables = grants.filter((g) => !g.columns).map((g) => `${g.table}:${g.privilege}`);
  const columns = grants.flatMap((g) => (g.columns ?? []).map((c) => `${g.table}.${c}:${g.privilege}`));
  return `-- Revoke what no current policy needs (column privileges first: revoking a table privilege drops them too).
DO $$
DECLARE
  wanted_tables text[] := ${array(tables.sort())};
  wanted_columns text[] := ${array(columns.sort())};
  r record;
BEGIN
  FOR r IN
    SELECT n.nspname, c.relname, a.attname, x.privilege_type
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN LATERAL aclexplode(a.attacl) x
    WHERE x.grantee = ${literal(o.auditRole)}::regrole
      AND NOT (n.nspname || '.' || c.relname || '.' || a.attname || ':' || x.privilege_type) = ANY (wanted_columns)
  LOOP
    EXECUTE format('REVOKE %s (%I) ON %I.%I FROM %I', r.privilege_type, r.attname, r.nspname, r.relname, ${literal(o.auditRole)});
  END LOOP;
  FOR r IN
    SELECT n.nspname, c.relname, x.privilege_type
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN LATERAL aclexplode(c.relacl) x
    WHERE x.grantee = ${literal(o.auditRole)}::regrole
      AND NOT (n.nspname || '.' || c.relname || ':' || x.privilege_type) = ANY (wanted_tables)
  LOOP
    EXECUTE format('REVOKE %s ON %I.%I FROM %I', r.privilege_type, r.nspname, r.relname, ${literal(o.auditRole)});
  END LOOP;
END $$;
`;
}

function policyBlock(p: Policy, grants: Grant[], printed: Set<Grant>, o: PolicySqlOptions): string {
  const { server, ingest } = enforcement(p, o.auditRole);
  const lines = [`-- policy ${p.id} (${p.file})${p.description ? `: ${p.description}` : ''}`];
  for (const s of server) lines.push(`--   server enforces: ${s}`);
  for (const s of ingest) lines.push(`--   ingest only:     ${s}`);
  // A grant shared by several policies (merged per table and privilege) is printed under the first.
  const mine = grants.filter((g) => g.table === p.table && p.outcome === 'any' && p.operations.includes(g.privilege));
  for (const g of mine) {
    if (printed.has(g)) lines.push(`--   (${g.privilege} on ${g.table}: granted above)`);
    else lines.push(grantSql(g, o.auditRole));
    printed.add(g);
  }
  return `${lines.join('\n')}\n`;
}

function sessionLoggingSql(policies: readonly Policy[], o: PolicySqlOptions): string {
  const scoped = policies.filter((p) => needsSessionLogging(p) && (p.users || p.roles));
  const users = [...new Set(scoped.flatMap((p) => p.users ?? []))].sort();
  const roles = [...new Set(scoped.flatMap((p) => p.roles ?? []))].sort();
  return `-- Per-user session logging, for policies pgAudit object auditing cannot express (TRUNCATE):
-- pgaudit.log = write for ${users.length + roles.length === 0 ? 'nobody' : [...users, ...roles.map((r) => `the members of ${r}`)].join(', ')}.
-- Members are resolved now: run this again after role membership changes. New sessions pick it up.
DO $$
DECLARE
  audit_role text := ${literal(o.auditRole)};
  users text[] := ${array(users)};
  roles text[] := ${array(roles)};
  wanted text[];
  before text[];
  u text;
BEGIN
  WITH RECURSIVE m(member) AS (
    SELECT a.member FROM pg_auth_members a WHERE a.roleid IN (SELECT oid FROM pg_roles WHERE rolname = ANY (roles))
    UNION
    SELECT a.member FROM pg_auth_members a JOIN m ON a.roleid = m.member
  )
  SELECT coalesce(array_agg(DISTINCT rolname ORDER BY rolname), '{}') INTO wanted
  FROM pg_roles WHERE rolcanlogin AND (rolname = ANY (users) OR oid IN (SELECT member FROM m));
  FOR u IN SELECT unnest(users) EXCEPT SELECT rolname FROM pg_roles LOOP
    RAISE WARNING 'auditlake: policy user % does not exist', u;
  END LOOP;
  before := coalesce(string_to_array(substring(shobj_description(audit_role::regrole, 'pg_authid') FROM 'session_logging=([^ ]*)'), ','), '{}');
  FOR u IN SELECT unnest(before) EXCEPT SELECT unnest(wanted) LOOP
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = u) THEN
      EXECUTE format('ALTER ROLE %I RESET pgaudit.log', u);
      EXECUTE format('ALTER ROLE %I RESET pgaudit.log_relation', u);
    END IF;
  END LOOP;
  FOREACH u IN ARRAY wanted LOOP
    EXECUTE format('ALTER ROLE %I SET pgaudit.log = %L', u, 'write');
    EXECUTE format('ALTER ROLE %I SET pgaudit.log_relation = %L', u, 'on');
  END LOOP;
  EXECUTE format('COMMENT ON ROLE %I IS %L', audit_role,
    'pgAudit object-audit role managed by auditlake policy sql: its privileges come from audit policies; grant it nothing by hand. session_logging='
    || array_to_string(wanted, ','));
END $$;
`;
}

function pgauditRoleSql(o: PolicySqlOptions): string {
  if (o.scope === 'database')
    return `-- pgaudit.role for this database (RDS and Aurora have no ALTER SYSTEM); new sessions pick it up.
DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET pgaudit.role = %L', current_database(), ${literal(o.auditRole)});
END $$;
`;
  return `-- pgaudit.role for the whole server (ALTER SYSTEM cannot run inside a transaction block).
ALTER SYSTEM SET pgaudit.role = ${literal(o.auditRole)};
SELECT pg_reload_conf();
`;
}

const CHECKS = `-- Failed attempts reach the log only as ERROR lines with their statement: check the server says so.
DO $$
BEGIN
  IF current_setting('log_min_error_statement') IN ('log', 'fatal', 'panic') THEN
    RAISE WARNING 'auditlake: log_min_error_statement = % hides the statement of failed attempts; set it to error', current_setting('log_min_error_statement');
  END IF;
  IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pgaudit') THEN
    RAISE WARNING 'auditlake: the pgaudit extension is not installed in this database (shared_preload_libraries, CREATE EXTENSION pgaudit)';
  END IF;
END $$;
`;

/** The whole SQL script for a policy set. */
export function policySql(policies: readonly Policy[], options: PolicySqlOptions): string {
  const grants = grantsFor(policies);
  const printed = new Set<Grant>();
  const parts = [
    header(policies, options),
    'BEGIN;\n',
    roleSql(options),
    revokeSql(grants, options),
    ...policies.map((p) => policyBlock(p, grants, printed, options)),
    sessionLoggingSql(policies, options),
    CHECKS,
    'COMMIT;\n',
    pgauditRoleSql(options),
  ];
  return parts.join('\n');
}
