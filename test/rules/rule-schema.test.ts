import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadParamsFile, loadRules, RuleLoadError } from '../../src/rules/load.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auditlake-rule-schema-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const GOOD = `id: demo
title: Demo
severity: low
params:
  users: [alice]
match:
  db_user: {in: {param: users}}
tests:
  - name: alice
    events: [{db_user: alice}]
    expect: [{event_count: 1}]
`;

async function loadError(name: string, text: string, params?: Record<string, Record<string, unknown>>): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  try {
    await loadRules(file, { params: params as never });
  } catch (error) {
    expect(error).toBeInstanceOf(RuleLoadError);
    return (error as Error).message;
  }
  throw new Error('expected a load error');
}

describe('rule validation messages', () => {
  it('loads a valid rule with its params resolved', async () => {
    await writeFile(join(dir, 'good.yaml'), GOOD);
    const [rule] = await loadRules(join(dir, 'good.yaml'), { params: { demo: { users: ['bob'] } } });
    expect(rule.params).toEqual({ users: ['bob'] });
    expect(rule.match).toMatchObject({ kind: 'leaf', op: 'in', value: ['bob'] });
  });

  it('names the file, the rule and the unknown key', async () => {
    const message = await loadError('bad-key.yaml', GOOD.replace('severity: low', 'severity: low\nseverty: high'));
    expect(message).toBe(`${join(dir, 'bad-key.yaml')}: rule "demo":\n✖ Unrecognized key: "severty"`);
  });

  it('names the field path of an unknown field', async () => {
    const message = await loadError('bad-field.yaml', GOOD.replace('db_user: {in', 'db_usr: {in'));
    expect(message).toContain(`${join(dir, 'bad-field.yaml')}: rule "demo":`);
    expect(message).toContain('✖ unknown field "db_usr"; known fields: event_id, schema_version');
    expect(message).toContain('→ at match.db_usr');
  });

  it('refuses a lookahead with a message saying why', async () => {
    const message = await loadError(
      'bad-regex.yaml',
      GOOD.replace('db_user: {in: {param: users}}', "all:\n    - statement_text: {regex: 'delete(?!.*where)'}"),
    );
    expect(message).toContain(
      '✖ regex /delete(?!.*where)/ uses a lookaround ((?=, (?!, (?<=, (?<!), which DuckDB/Athena (RE2) do not support',
    );
    expect(message).toContain('→ at match.all[0].statement_text.regex');
  });

  it('refuses a regex that does not compile, and a backreference', async () => {
    const broken = await loadError(
      'broken-regex.yaml',
      GOOD.replace('db_user: {in: {param: users}}', "statement_text: {regex: '(unclosed'}"),
    );
    expect(broken).toContain('✖ regex /(unclosed/ does not compile: Invalid regular expression');
    const backref = await loadError('backref.yaml', GOOD.replace('db_user: {in: {param: users}}', "statement_text: {regex: '(a)\\1'}"));
    expect(backref).toContain('backreference');
  });

  it('checks operand types and operators against the field', async () => {
    const message = await loadError('bad-op.yaml', GOOD.replace('db_user: {in: {param: users}}', 'row_count: {gt: many, like: x}'));
    expect(message).toContain('✖ gt on "row_count" expects an integer, got "many"\n  → at match.row_count.gt');
    expect(message).toContain('✖ unknown operator "like"');
  });

  it('reports enum, duration and kind problems through zod', async () => {
    const message = await loadError(
      'bad-kind.yaml',
      GOOD.replace('severity: low', 'severity: urgent\nthreshold: {count: 3, window: 10 minutes}\nfirst_seen: true'),
    );
    expect(message).toContain('✖ Invalid option: expected one of "info"|"low"|"medium"|"high"|"critical"\n  → at severity');
    expect(message).toContain('✖ expected a duration like 30s, 10m, 1h or 1d\n  → at threshold.window');
  });

  it('reports unknown params, bad overrides and overrides of unknown rules', async () => {
    const unknown = await loadError('bad-param.yaml', GOOD.replace('{param: users}', '{param: user}'));
    expect(unknown).toContain('✖ unknown param "user"; declared: users\n  → at match.db_user.in');
    const shape = await loadError('override.yaml', GOOD, { demo: { users: 'bob' } });
    expect(shape).toContain('✖ override of "users" must be a list, got a string\n  → at params.users');
    const rule = await loadError('override2.yaml', GOOD, { other: { x: 1 } });
    expect(rule).toContain('params: override for unknown rule "other"');
  });

  it('reads a params file strictly', async () => {
    const file = join(dir, 'params.yaml');
    await writeFile(file, 'params:\n  demo: {users: [carol]}\n');
    expect(await loadParamsFile(file)).toEqual({ demo: { users: ['carol'] } });
    await writeFile(file, 'parms: {}\n');
    await expect(loadParamsFile(file)).rejects.toThrow('Unrecognized key: "parms"');
  });
});
