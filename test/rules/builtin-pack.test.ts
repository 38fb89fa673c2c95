import { describe, expect, it } from 'vitest';
import { checkAlert } from '../../src/rules/alert-schema.js';
import { loadRules } from '../../src/rules/load.js';
import { runRuleTests } from '../../src/rules/rule-tests.js';

describe('built-in rule pack', async () => {
  const rules = await loadRules('rules');

  it('has the expected rules', () => {
    expect(rules.map((r) => r.id).sort()).toEqual([
      'auth-brute-force',
      'auth-success-after-failures',
      'bulk-export',
      'destructive-ddl',
      'new-client-address',
      'off-hours-activity',
      'permission-denied-burst',
      'privilege-escalation',
      'sensitive-table-access',
      'unbounded-write',
    ]);
  });

  const results = runRuleTests(rules);
  it.each(results.map((r) => [`${r.rule_id}: ${r.test}`, r] as const))('%s', (_name, result) => {
    expect(result.message ?? '').toBe('');
    expect(result.passed).toBe(true);
    for (const alert of result.alerts) expect(checkAlert(alert)).toBeNull();
  });

  it('every rule has a test that raises alerts and one that raises none', () => {
    for (const rule of rules) {
      expect(
        rule.tests.some((t) => t.expect.length > 0),
        rule.id,
      ).toBe(true);
      expect(
        rule.tests.some((t) => t.expect.length === 0),
        rule.id,
      ).toBe(true);
    }
  });

  it('a failing expectation is reported, not hidden', () => {
    const rule = rules.find((r) => r.id === 'auth-brute-force')!;
    const broken = { ...rule, tests: [{ ...rule.tests[0], expect: [] }] };
    const [result] = runRuleTests([broken]);
    expect(result.passed).toBe(false);
    expect(result.message).toBe(
      'wrong number of alerts; expected 0 alert(s), got {group_key: "db_user=alice,client_addr=203.0.113.7", event_count: 5, at 2024-05-06T10:00:40.000000Z}',
    );
  });
});
