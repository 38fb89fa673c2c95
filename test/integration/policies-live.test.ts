import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SKIP_NOT_SELECTED } from '../../src/pipeline/policies-stage.js';
import type { RunSummary } from '../../src/pipeline/stats.js';
import { cliArgs as cli } from '../support/cli.js';
import { type PgServer, startPgServer } from '../support/postgres.js';

/**
 * The example policies (policies/) against a live PostgreSQL 15 with pgAudit: the generated SQL is
 * applied (twice, and after a smaller set, to see it converge), several users run a workload, and the
 * server's own log, ingested with --policies, must hold exactly the statements each policy names,
 * tagged with it. The server starts with pgaudit.log = none and no pgaudit.role: everything audited
 * comes from the generated SQL.
 */

const POLICIES = new URL('../../policies', import.meta.url).pathname;

async function query(lake: string, sql: string): Promise<Record<string, unknown>[]> {
  const r = await cli(['query', '--lake', lake, '--format', 'json', sql]);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out);
}

/** Everything the generated SQL sets on the server, as one comparable value. */
const STATE_SQL = `SELECT json_build_object(
  'tables', (SELECT json_agg(c.relname || ':' || c.relacl::text ORDER BY c.relname) FROM pg_class c WHERE c.relacl IS NOT NULL AND c.relnamespace = 'public'::regnamespace),
  'columns', (SELECT json_agg(c.relname || '.' || a.attname || ':' || a.attacl::text ORDER BY c.relname, a.attname) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE a.attacl IS NOT NULL AND c.relnamespace = 'public'::regnamespace),
  'settings', (SELECT json_agg(r.rolname || ':' || s.setconfig::text ORDER BY r.rolname) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole),
  'comment', shobj_description('auditlake_auditor'::regrole, 'pg_authid'),
  'role', current_setting('pgaudit.role'))`;

const WORKLOAD: [user: string, sql: string][] = [
  ['carol', 'SELECT name FROM public.employees WHERE id = 1;'],
  ['carol', 'SELECT name, salary FROM public.employees WHERE id = 1;'],
  ['carol', "INSERT INTO public.orders VALUES (10, 'pen');"],
  ['carol', 'DELETE FROM public.orders WHERE id = 10;'],
  ['carol', 'SELECT secret FROM public.sensitive_data;'],
  ['dave', "INSERT INTO public.orders VALUES (20, 'ink');"],
  ['dave', 'DELETE FROM public.orders WHERE id = 20;'],
  ['dave', 'SELECT * FROM public.confidential_data;'],
  ['dave', 'SELECT secret FROM public.sensitive_data;'],
  ['erin', 'SELECT doc FROM public.confidential_data WHERE id = 1;'],
  ['erin', "UPDATE public.confidential_data SET doc = 'x' WHERE id = 1;"],
  ['erin', 'SELECT name FROM public.employees;'],
  ['erin', 'SELECT bonus FROM public.employees;'],
  ['carol', 'TRUNCATE public.orders;'],
];

describe('audit policies on a live PostgreSQL server', () => {
  let server: PgServer;
  let dir: string;
  let sql: string;
  const states: unknown[] = [];
  let tagged: RunSummary;
  let only: RunSummary;

  const state = async () => {
    const r = await server.psql(STATE_SQL);
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout);
  };
  const apply = async (text: string) => {
    const r = await server.psql(text);
    expect(r.stderr).not.toMatch(/ERROR|WARNING/);
    expect(r.code).toBe(0);
  };

  beforeAll(async () => {
    server = await startPgServer({ settings: { 'pgaudit.log': `'none'`, 'pgaudit.role': `''` } });
    dir = await mkdtemp(join(tmpdir(), 'auditlake-policies-'));
    const setup = await server.psql(`
      CREATE ROLE carol LOGIN PASSWORD 'carol-pw';
      CREATE ROLE dave LOGIN PASSWORD 'dave-pw';
      CREATE ROLE erin LOGIN PASSWORD 'erin-pw';
      CREATE ROLE external_contractor NOLOGIN;
      GRANT external_contractor TO erin;
      CREATE TABLE public.employees (id int PRIMARY KEY, name text, salary int, bonus int);
      CREATE TABLE public.orders (id int PRIMARY KEY, item text);
      CREATE TABLE public.confidential_data (id int PRIMARY KEY, doc text);
      CREATE TABLE public.sensitive_data (id int PRIMARY KEY, secret text);
      INSERT INTO public.employees VALUES (1, 'ann', 100, 10);
      INSERT INTO public.confidential_data VALUES (1, 'plan');
      INSERT INTO public.sensitive_data VALUES (1, 'key');
      GRANT SELECT ON public.employees TO carol, dave;
      GRANT SELECT, INSERT, DELETE, TRUNCATE ON public.orders TO carol, dave;
      GRANT SELECT, INSERT, UPDATE ON public.confidential_data TO external_contractor, dave;
      GRANT SELECT ON public.sensitive_data TO carol;
    `);
    expect(setup.stderr).toBe('');

    // A smaller set first (salaries only), then the full set: the second must take back nothing it needs
    // and the full set must leave exactly its own; then applied again, it must change nothing.
    const salaries = await cli(['policy', 'sql', join(POLICIES, 'salaries.yaml')]);
    expect(salaries.code, salaries.err).toBe(0);
    const full = await cli(['policy', 'sql', POLICIES]);
    expect(full.code, full.err).toBe(0);
    sql = full.out;
    await apply(sql);
    states.push(await state());
    await apply(salaries.out);
    states.push(await state());
    await apply(sql);
    states.push(await state());
    await apply(sql);
    states.push(await state());

    for (const [user, text] of WORKLOAD) await server.psql(text, { user, password: `${user}-pw` });
    await server.flushLogs();
    const members = join(dir, 'members.json');
    const snap = await cli(['policy', 'members', '--database-url', server.connectionString(), '--out', members]);
    expect(snap.code, snap.err).toBe(0);
    const csv = (await server.logFiles()).csvlog as string;
    const args = ['--policies', POLICIES, '--policy-members', members, '--json'];
    const a = await cli(['ingest', csv, '--out', join(dir, 'tagged'), ...args]);
    expect(a.code, a.err).toBe(0);
    tagged = JSON.parse(a.out);
    const b = await cli(['ingest', csv, '--out', join(dir, 'only'), ...args, '--policy-mode', 'only']);
    expect(b.code, b.err).toBe(0);
    only = JSON.parse(b.out);
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('configures pgAudit idempotently, and converges when policies go away', () => {
    const [first, smaller, again, twice] = states as Record<string, unknown>[];
    expect(first.role).toBe('auditlake_auditor');
    expect(first.columns).toEqual(['employees.bonus:{auditlake_auditor=r/postgres}', 'employees.salary:{auditlake_auditor=r/postgres}']);
    expect((first.tables as string[]).filter((t) => t.includes('auditlake_auditor'))).toEqual([
      expect.stringMatching(/^confidential_data:.*auditlake_auditor=arwd\/postgres/),
      expect.stringMatching(/^orders:.*auditlake_auditor=d\/postgres/),
    ]);
    expect(first.settings).toEqual([
      'carol:{pgaudit.log=write,pgaudit.log_relation=on}',
      'erin:{pgaudit.log=write,pgaudit.log_relation=on}',
    ]);
    expect(first.comment).toMatch(/session_logging=carol,erin$/);
    // The salaries policy alone: its column grants stay, everything else of the audit role goes.
    expect(smaller.columns).toEqual(first.columns);
    expect((smaller.tables as string[]).filter((t) => t.includes('auditlake_auditor'))).toEqual([]);
    expect(smaller.settings).toBeNull();
    expect(smaller.comment).toMatch(/session_logging=$/);
    expect(again).toEqual(first);
    expect(twice).toEqual(first);
  });

  it('logs exactly the statements the policies name, each tagged with its policies', async () => {
    const rows = await query(
      join(dir, 'tagged'),
      `SELECT db_user, audit_type, command, statement_text, policy_ids FROM audit_events
       WHERE db_user IN ('carol', 'dave', 'erin') AND event_class NOT IN ('CONNECT', 'DISCONNECT')
       ORDER BY event_time, statement_id, audit_type`,
    );
    expect(rows).toEqual([
      // carol: reading name only is not logged; reading salary is.
      {
        db_user: 'carol',
        audit_type: 'OBJECT',
        command: 'SELECT',
        statement_text: 'SELECT name, salary FROM public.employees WHERE id = 1;',
        policy_ids: ['audit-salaries'],
      },
      // carol writes are session-logged (her TRUNCATE policy), but only her DELETE and TRUNCATE are policy events.
      {
        db_user: 'carol',
        audit_type: 'SESSION',
        command: 'INSERT',
        statement_text: "INSERT INTO public.orders VALUES (10, 'pen');",
        policy_ids: [],
      },
      {
        db_user: 'carol',
        audit_type: 'OBJECT',
        command: 'DELETE',
        statement_text: 'DELETE FROM public.orders WHERE id = 10;',
        policy_ids: ['orders-deletes'],
      },
      {
        db_user: 'carol',
        audit_type: 'SESSION',
        command: 'DELETE',
        statement_text: 'DELETE FROM public.orders WHERE id = 10;',
        policy_ids: ['orders-deletes'],
      },
      // dave: his INSERT is not logged at all; his DELETE is.
      {
        db_user: 'dave',
        audit_type: 'OBJECT',
        command: 'DELETE',
        statement_text: 'DELETE FROM public.orders WHERE id = 20;',
        policy_ids: ['orders-deletes'],
      },
      // dave is not a contractor: logged (object auditing cannot tell users apart), not tagged.
      {
        db_user: 'dave',
        audit_type: 'OBJECT',
        command: 'SELECT',
        statement_text: 'SELECT * FROM public.confidential_data;',
        policy_ids: [],
      },
      // the permission-denied attempt is tagged; carol's successful read of the same table was never logged.
      {
        db_user: 'dave',
        audit_type: null,
        command: 'SELECT',
        statement_text: 'SELECT secret FROM public.sensitive_data;',
        policy_ids: ['failed-sensitive-reads'],
      },
      {
        db_user: 'erin',
        audit_type: 'OBJECT',
        command: 'SELECT',
        statement_text: 'SELECT doc FROM public.confidential_data WHERE id = 1;',
        policy_ids: ['contractors-confidential'],
      },
      {
        db_user: 'erin',
        audit_type: 'OBJECT',
        command: 'UPDATE',
        statement_text: "UPDATE public.confidential_data SET doc = 'x' WHERE id = 1;",
        policy_ids: ['contractors-confidential'],
      },
      {
        db_user: 'erin',
        audit_type: 'SESSION',
        command: 'UPDATE',
        statement_text: "UPDATE public.confidential_data SET doc = 'x' WHERE id = 1;",
        policy_ids: ['contractors-confidential'],
      },
      // erin may not read employees: the failure names the table, but only the bonus attempt touches the policy's columns.
      { db_user: 'erin', audit_type: null, command: 'SELECT', statement_text: 'SELECT name FROM public.employees;', policy_ids: [] },
      {
        db_user: 'erin',
        audit_type: null,
        command: 'SELECT',
        statement_text: 'SELECT bonus FROM public.employees;',
        policy_ids: ['audit-salaries'],
      },
      {
        db_user: 'carol',
        audit_type: 'SESSION',
        command: 'TRUNCATE TABLE',
        statement_text: 'TRUNCATE public.orders;',
        policy_ids: ['carol-truncates-orders'],
      },
    ]);
  });

  it('keeps only policy events and sessions with --policy-mode only, counting the rest as skipped', async () => {
    const skipped = only.skipped[SKIP_NOT_SELECTED];
    const untagged = await query(
      join(dir, 'tagged'),
      `SELECT count(*) AS n FROM audit_events WHERE len(policy_ids) = 0 AND event_class NOT IN ('CONNECT', 'DISCONNECT', 'AUTH_FAILURE')`,
    );
    expect(skipped).toBe(Number(untagged[0].n));
    expect(skipped).toBeGreaterThan(0);
    expect(only.events + skipped).toBe(tagged.events);
    expect(only.records).toBe(tagged.records);
    const kept = await query(
      join(dir, 'only'),
      `SELECT count(*) FILTER (WHERE len(policy_ids) = 0 AND event_class NOT IN ('CONNECT', 'DISCONNECT', 'AUTH_FAILURE')) AS stray,
              count(*) FILTER (WHERE event_class = 'CONNECT') AS connects FROM audit_events`,
    );
    expect(kept).toEqual([{ stray: '0', connects: expect.any(String) }]);
    expect(Number(kept[0].connects)).toBeGreaterThanOrEqual(WORKLOAD.length);
  });

  it('reports coverage per policy, and the policies with none', async () => {
    const r = await cli(['policy', 'coverage', '--lake', join(dir, 'tagged'), '--policies', POLICIES, '--json']);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out);
    expect(Object.fromEntries(report.policies.map((p: { policy_id: string; events: number }) => [p.policy_id, p.events]))).toEqual({
      'audit-salaries': 2,
      'carol-truncates-orders': 1,
      'contractors-confidential': 3,
      'failed-sensitive-reads': 1,
      'orders-deletes': 3,
    });
    expect(report.without_events).toEqual([]);
    const later = await cli([
      'policy',
      'coverage',
      '--lake',
      join(dir, 'tagged'),
      '--policies',
      POLICIES,
      '--since',
      '2999-01-01T00:00:00Z',
    ]);
    expect(later.code).toBe(1);
    expect(later.out).toContain('policies with no events: audit-salaries, carol-truncates-orders, contractors-confidential');
  });

  it('documents what the server enforces and what only ingest can, in the SQL', async () => {
    await writeFile(join(dir, 'policies.sql'), sql);
    expect(sql).toContain('GRANT SELECT ("bonus", "salary") ON "public"."employees" TO "auditlake_auditor";');
    expect(sql).toMatch(/policy failed-sensitive-reads[^\n]*\n-- {3}server enforces: failed attempts are logged as ERROR lines/);
    expect(sql).toContain('--   ingest only:     only members of external_contractor');
  });
});
