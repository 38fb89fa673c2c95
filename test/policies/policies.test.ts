import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { loadLambdaConfig } from '../../src/lambda/config.js';
import { createPoliciesStage, SKIP_NOT_SELECTED } from '../../src/pipeline/policies-stage.js';
import {
  createPolicyMatcher,
  grantsFor,
  loadPolicies,
  operationOf,
  type Policy,
  PolicyConfigError,
  PolicyLoadError,
  policySql,
} from '../../src/policies/index.js';
import { defaultEvent } from '../../src/rules/rule-tests.js';
import { type AuditEvent, countAsOneRecord, mergeBatch, NO_POLICY_IDS, newBatch, recordOutcomesOf } from '../../src/schema/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auditlake-policy-unit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function policyFile(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

const policy = (p: Partial<Policy> & Pick<Policy, 'id' | 'table' | 'operations'>): Policy => ({ outcome: 'any', file: 'test.yaml', ...p });

let n = 0;
const event = (fields: Partial<AuditEvent>): AuditEvent => ({ ...defaultEvent(`e${n++}`, 1_700_000_000_000_000), ...fields });

describe('policy files', () => {
  it('loads the example set: one policy per file or a list', async () => {
    const policies = await loadPolicies(new URL('../../policies', import.meta.url).pathname);
    expect(policies.map((p) => p.id).sort()).toEqual([
      'audit-salaries',
      'carol-truncates-orders',
      'contractors-confidential',
      'failed-sensitive-reads',
      'orders-deletes',
    ]);
    expect(policies.find((p) => p.id === 'contractors-confidential')?.operations).toEqual([
      'SELECT',
      'INSERT',
      'UPDATE',
      'DELETE',
      'TRUNCATE',
    ]);
  });

  it('names the file, the policy and the field of every mistake', async () => {
    const file = await policyFile(
      'bad.yaml',
      `- id: a
  table: employees
  operations: [SELECT]
  colour: red
- id: b
  table: public.orders
  columns: [id]
  operations: [DELETE]
- id: c
  table: public.t
  operations: [SELECT]
  outcome: sometimes
- id: d
  table: public.t
  operations: [SELECT]
  error_codes: ['42501']
`,
    );
    const err = await loadPolicies(file).catch((e) => e);
    expect(err).toBeInstanceOf(PolicyLoadError);
    const text = (err as Error).message;
    expect(text).toContain(`${file}[0]: policy "a"`);
    expect(text).toMatch(/schema-qualified[\s\S]*→ at table/);
    expect(text).toMatch(/Unrecognized key: "colour"/);
    expect(text).toMatch(/\[1\]: policy "b"[\s\S]*no column privilege for DELETE[\s\S]*→ at columns/);
    expect(text).toMatch(/\[2\]: policy "c"[\s\S]*→ at outcome/);
    expect(text).toMatch(/\[3\]: policy "d"[\s\S]*error_codes go with outcome: failed/);
  });

  it('rejects duplicate ids across files, a scalar document and bad YAML', async () => {
    const sub = join(dir, 'dup');
    await rm(sub, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(sub));
    await writeFile(join(sub, 'a.yaml'), 'id: x\ntable: public.t\noperations: [SELECT]\n');
    await writeFile(join(sub, 'b.yml'), 'id: x\ntable: public.u\noperations: [DELETE]\n---\njust text\n---\n[unclosed\n');
    const text = ((await loadPolicies(sub).catch((e) => e)) as Error).message;
    expect(text).toContain('b.yml: policy "x": id already used in');
    expect(text).toContain('b.yml: a policy must be a YAML mapping');
    expect(text).toContain('b.yml: not valid YAML');
  });

  it('is a usage error (exit 2) on the command line, with the file named', async () => {
    const file = await policyFile('typo.yaml', 'id: t\ntable: public.t\noperation: [SELECT]\n');
    let err = '';
    const code = await runCli(['policy', 'sql', file], { out: () => {}, err: (t) => (err += t), tty: false });
    expect(code).toBe(2);
    expect(err).toContain(`${file}: policy "t"`);
    expect(err).toContain('operation');
  });
});

describe('matching events to policies', () => {
  const salaries = policy({ id: 'sal', table: 'public.employees', columns: ['salary', 'bonus'], operations: ['SELECT'] });
  const deletes = policy({ id: 'del', table: 'public.orders', operations: ['DELETE', 'TRUNCATE'] });
  const failed = policy({ id: 'fail', table: 'public.sensitive_data', operations: ['SELECT'], outcome: 'failed', error_codes: ['42501'] });
  const contractors = policy({ id: 'ext', table: 'public.confidential_data', operations: ['SELECT'], roles: ['external_contractor'] });
  const members = { taken_at: '', server: '', members: { external_contractor: ['erin', 'team_x'] } };
  const m = createPolicyMatcher([salaries, deletes, failed, contractors], members);

  it('matches pgAudit, DAS and proxy events by table, operation and columns', () => {
    const read = (text: string, object: string | null = 'public.employees') =>
      m.match(event({ event_class: 'READ', command: 'SELECT', object_name: object, statement_text: text }));
    expect(read('SELECT salary FROM public.employees')).toEqual(['sal']);
    expect(read('select e.* from employees e', 'employees')).toEqual(['sal']); // DAS may give no schema
    expect(read('SELECT name FROM public.employees')).toEqual([]);
    expect(read('SELECT count(*) FROM public.employees')).toEqual([]);
    expect(read('SELECT salary FROM other.employees', 'other.employees')).toEqual([]);
    expect(read('SELECT salary FROM public.employees', null)).toEqual(['sal']); // proxy: no object name
    expect(read('SELECT salary FROM public.employees_archive', null)).toEqual([]);
    expect(read('SELECT salary FROM "public"."employees"', null)).toEqual(['sal']);
    const write = (command: string, text: string) =>
      m.match(event({ event_class: 'WRITE', command, object_name: 'public.orders', statement_text: text }));
    expect(write('DELETE', 'DELETE FROM orders')).toEqual(['del']);
    expect(write('INSERT', 'INSERT INTO orders VALUES (1)')).toEqual([]);
    expect(write('TRUNCATE TABLE', 'TRUNCATE orders')).toEqual(['del']);
  });

  it('matches failed attempts by SQLSTATE and the table in the message or statement, never successes', () => {
    const err = (fields: Partial<AuditEvent>) =>
      m.match(event({ event_class: 'ERROR', success: false, error_code: '42501', command: null, ...fields }));
    expect(err({ error_message: 'permission denied for table sensitive_data', statement_text: null })).toEqual(['fail']);
    expect(
      err({ error_message: 'permission denied for table sensitive_data', statement_text: 'SELECT 1 FROM public.sensitive_data' }),
    ).toEqual(['fail']);
    expect(err({ error_message: 'permission denied for table other', statement_text: 'SELECT 1 FROM other' })).toEqual([]);
    expect(err({ error_code: '42P01', error_message: 'relation "sensitive_data" does not exist' })).toEqual([]);
    expect(err({ error_message: 'permission denied for table sensitive_data', statement_text: 'DELETE FROM sensitive_data' })).toEqual([]);
    expect(
      m.match(event({ event_class: 'READ', command: 'SELECT', object_name: 'public.sensitive_data', statement_text: 'SELECT 1' })),
    ).toEqual([]);
    // A failed login is never a policy event.
    expect(err({ event_class: 'AUTH_FAILURE', error_message: 'sensitive_data' })).toEqual([]);
  });

  it('scopes by role membership from the snapshot, and asks for one', () => {
    const ext = (user: string) =>
      m.match(
        event({ event_class: 'READ', command: 'SELECT', db_user: user, object_name: 'public.confidential_data', statement_text: 'x' }),
      );
    expect(ext('erin')).toEqual(['ext']);
    expect(ext('external_contractor')).toEqual(['ext']);
    expect(ext('dave')).toEqual([]);
    expect(() => createPolicyMatcher([contractors])).toThrow(PolicyConfigError);
  });

  it('tells the operation from the command tag, COPY direction or the statement', () => {
    expect(operationOf({ command: 'COPY', statement_text: 'COPY t TO STDOUT' })).toBe('SELECT');
    expect(operationOf({ command: 'COPY', statement_text: 'COPY t FROM STDIN' })).toBe('INSERT');
    expect(operationOf({ command: null, statement_text: '  update t set a = 1' })).toBe('UPDATE');
    expect(operationOf({ command: null, statement_text: 'WITH x AS (SELECT 1) DELETE FROM t' })).toBe('DELETE');
    expect(operationOf({ command: 'CREATE TABLE', statement_text: 'CREATE TABLE t ()' })).toBeNull();
  });

  it('never throws and tags only with known ids, whatever the event says', () => {
    const text = fc.option(fc.string(), { nil: null });
    fc.assert(
      fc.property(text, text, text, text, fc.boolean(), (command, object, statement, message, success) => {
        const ids = m.match(
          event({
            event_class: success ? 'READ' : 'ERROR',
            command,
            object_name: object,
            statement_text: statement,
            error_message: message,
            success,
          }),
        );
        return ids.every((id) => ['sal', 'del', 'fail', 'ext'].includes(id));
      }),
    );
  });
});

describe('the policies stage', () => {
  const m = createPolicyMatcher([policy({ id: 'del', table: 'public.orders', operations: ['DELETE'] })]);
  const events = () => [
    event({ event_class: 'CONNECT', command: 'CONNECT' }),
    event({ event_class: 'WRITE', command: 'DELETE', object_name: 'public.orders' }),
    event({ event_class: 'WRITE', command: 'INSERT', object_name: 'public.orders' }),
    event({ event_class: 'AUTH_FAILURE', success: false }),
  ];

  it('tags every event in tag mode, sharing the empty list', () => {
    const batch = { ...newBatch(), events: events(), records: 4 };
    createPoliciesStage(m, 'tag')(batch);
    expect(batch.events.map((e) => e.policy_ids)).toEqual([[], ['del'], [], []]);
    expect(batch.events[0].policy_ids).toBe(NO_POLICY_IDS);
    expect(batch.skipped).toEqual({});
  });

  it('keeps selected events and sessions in only mode, counting the rest', () => {
    const batch = { ...newBatch(), events: events(), records: 4 };
    createPoliciesStage(m, 'only')(batch);
    expect(batch.events.map((e) => e.event_class)).toEqual(['CONNECT', 'WRITE', 'AUTH_FAILURE']);
    expect(batch.skipped).toEqual({ [SKIP_NOT_SELECTED]: 1 });
  });

  it('counts a record of several events as skipped when it keeps none of them (a DAS record)', () => {
    // Three records as the DAS decoder gives them: [DELETE, INSERT], [INSERT, INSERT], [INSERT, CONNECT].
    const [connect, del, insert] = events();
    const record = (...es: AuditEvent[]) => {
      const piece = { ...newBatch(), events: es.map((e) => ({ ...e })), records: 1 };
      countAsOneRecord(piece);
      return piece;
    };
    const batch = newBatch();
    for (const piece of [record(del, insert), record(insert, insert), record(insert, connect)]) mergeBatch(batch, piece);
    expect(recordOutcomesOf(batch)).toEqual({ written: 3, quarantined: 0, skipped: 0 });
    createPoliciesStage(m, 'only')(batch);
    expect(batch.events.map((e) => e.command)).toEqual(['DELETE', 'CONNECT']);
    expect(batch.skipped).toEqual({ [SKIP_NOT_SELECTED]: 4 });
    // The middle record lost every event: skipped on purpose, not written.
    expect(recordOutcomesOf(batch)).toEqual({ written: 2, quarantined: 0, skipped: 1 });
    expect(batch.eventsPerRecord).toEqual([1, 1]);
    // Records of one event each (a log line) need no list: they end as their event did.
    const lines = { ...newBatch(), events: events(), records: 4 };
    createPoliciesStage(m, 'only')(lines);
    expect(recordOutcomesOf(lines)).toEqual({ written: 3, quarantined: 0, skipped: 1 });
  });
});

describe('Lambda configuration', () => {
  it('reads POLICIES_DIR, POLICY_MODE and POLICY_MEMBERS, and refuses a mode without policies', () => {
    const base = { LAKE_URL: 's3://lake/x' };
    expect(loadLambdaConfig({ ...base, POLICIES_DIR: 'policies' }).policies).toEqual({ dir: 'policies', mode: 'tag', members: undefined });
    expect(loadLambdaConfig({ ...base, POLICIES_DIR: 'p', POLICY_MODE: 'only', POLICY_MEMBERS: 'm.json' }).policies).toEqual({
      dir: 'p',
      mode: 'only',
      members: 'm.json',
    });
    expect(() => loadLambdaConfig({ ...base, POLICY_MODE: 'only' })).toThrow(/POLICY_MODE and POLICY_MEMBERS go with POLICIES_DIR/);
    expect(() => loadLambdaConfig({ ...base, POLICIES_DIR: 'p', POLICY_MODE: 'some' })).toThrow(/POLICY_MODE/);
  });
});

describe('policy sql', () => {
  it('merges grants per table and privilege; a whole-table policy wins over columns; failed-only grants nothing', () => {
    const grants = grantsFor([
      policy({ id: 'a', table: 'public.t', columns: ['x'], operations: ['SELECT'] }),
      policy({ id: 'b', table: 'public.t', columns: ['y', 'x'], operations: ['SELECT', 'UPDATE'] }),
      policy({ id: 'c', table: 'public.u', columns: ['x'], operations: ['SELECT'] }),
      policy({ id: 'd', table: 'public.u', operations: ['SELECT', 'TRUNCATE'] }),
      policy({ id: 'e', table: 'public.v', operations: ['SELECT'], outcome: 'failed' }),
    ]);
    expect(grants).toEqual([
      { table: 'public.t', privilege: 'SELECT', columns: ['x', 'y'] },
      { table: 'public.t', privilege: 'UPDATE', columns: ['y', 'x'] },
      { table: 'public.u', privilege: 'SELECT', columns: null },
    ]);
  });

  it('quotes names, uses ALTER DATABASE when asked, and says when the server cannot enforce a TRUNCATE', () => {
    const sql = policySql([policy({ id: 'a', table: 'public.order', operations: ['TRUNCATE', 'DELETE'] })], {
      auditRole: 'audit_x',
      scope: 'database',
    });
    expect(sql).toContain('GRANT DELETE ON "public"."order" TO "audit_x";');
    expect(sql).toContain(`EXECUTE format('ALTER DATABASE %I SET pgaudit.role = %L', current_database(), 'audit_x');`);
    expect(sql).not.toContain('ALTER SYSTEM SET');
    expect(sql).toContain('TRUNCATE by any user: NOT configured');
  });
});
