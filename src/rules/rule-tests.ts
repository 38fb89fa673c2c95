import { type AuditEvent, checkEvent, EVENT_FIELDS, formatMicros, NO_POLICY_IDS, parseTimestampMicros } from '../schema/index.js';
import type { Alert } from './alert-schema.js';
import { createRuleEngine } from './engine.js';
import type { Rule, RuleTest } from './rule-schema.js';

/**
 * Rules carry their own tests: sample events (partial events, the rest filled with defaults) and the
 * alerts they must raise. `auditlake rules test <dir>` and the test suite run them through the same
 * streaming engine the pipeline uses.
 */

/** Outcome of one embedded test. */
export interface RuleTestResult {
  rule_id: string;
  file: string;
  test: string;
  passed: boolean;
  /** Why it failed. */
  message?: string;
  alerts: Alert[];
}

/** Time of the first test event without an `event_time`: a Monday, 10:00 UTC. */
export const TEST_BASE_TIME = Date.UTC(2024, 4, 6, 10, 0, 0) * 1000;
const SECOND = 1_000_000;

/** An event with every field at its default: what test events and generated events start from. */
export function defaultEvent(id: string, time: number): AuditEvent {
  const event: Record<string, unknown> = {};
  for (const f of EVENT_FIELDS) event[f.name] = f.nullable ? null : undefined;
  return {
    ...(event as unknown as AuditEvent),
    event_id: id,
    schema_version: 1,
    event_time: time,
    ingest_time: time,
    source_format: 'csvlog',
    source_ref: `test:${id}`,
    event_class: 'MISC',
    success: true,
    policy_ids: NO_POLICY_IDS,
    source: 'pgaudit',
  };
}

/**
 * Expands a test's events: defaults filled, `repeat`/`every` unrolled, times given as ISO text parsed;
 * an event without `event_time` comes one second after the previous one. Ids sort in input order.
 */
export function expandTestEvents(test: RuleTest, prefix = 'test'): AuditEvent[] | string {
  const events: AuditEvent[] = [];
  let time = TEST_BASE_TIME - SECOND;
  for (const [i, spec] of test.events.entries()) {
    const { repeat, every, ...fields } = spec as Record<string, unknown> & { repeat?: number; every?: { micros: number } };
    if (typeof fields.event_time === 'string') {
      const parsed = parseTimestampMicros(fields.event_time);
      if (parsed === null) return `events[${i}].event_time: not a timestamp: ${fields.event_time}`;
      time = parsed;
    } else {
      time += SECOND;
    }
    for (let k = 0; k < (repeat ?? 1); k++) {
      if (k > 0) time += every?.micros ?? SECOND;
      const id = `${prefix}-${String(events.length).padStart(6, '0')}`;
      const event = { ...defaultEvent(id, time), ...fields, event_time: time, ingest_time: time } as AuditEvent;
      const problem = checkEvent(event);
      if (problem) return `events[${i}] is not a valid event:\n${problem}`;
      events.push(event);
    }
  }
  return events;
}

function describe(alerts: Alert[]): string {
  if (alerts.length === 0) return 'no alerts';
  return alerts
    .map((a) => `{group_key: ${JSON.stringify(a.group_key)}, event_count: ${a.event_count}, at ${formatMicros(a.alert_time)}}`)
    .join(', ');
}

/** Runs one test of one rule. */
export function runRuleTest(rule: Rule, test: RuleTest): RuleTestResult {
  const base = { rule_id: rule.id, file: rule.file, test: test.name };
  const events = expandTestEvents(test);
  if (typeof events === 'string') return { ...base, passed: false, message: events, alerts: [] };
  // Test events may be listed in any order; a test is about the rule, not about lateness.
  events.sort((a, b) => a.event_time - b.event_time || (a.event_id < b.event_id ? -1 : 1));
  const engine = createRuleEngine([rule], { lateness: '0s' });
  const alerts = [...engine.process(events), ...engine.flush()].sort(
    (a, b) => a.alert_time - b.alert_time || a.alert_id.localeCompare(b.alert_id),
  );
  const expected = test.expect;
  const fail = (why: string) => ({
    ...base,
    passed: false,
    message: `${why}; expected ${expected.length} alert(s), got ${describe(alerts)}`,
    alerts,
  });
  if (alerts.length !== expected.length) return fail('wrong number of alerts');
  for (const [i, want] of expected.entries()) {
    const got = alerts[i];
    if (want.group_key !== undefined && want.group_key !== got.group_key)
      return fail(`alert ${i}: group_key ${JSON.stringify(got.group_key)} is not ${JSON.stringify(want.group_key)}`);
    if (want.event_count !== undefined && want.event_count !== got.event_count)
      return fail(`alert ${i}: event_count ${got.event_count} is not ${want.event_count}`);
  }
  return { ...base, passed: true, alerts };
}

/** Runs every embedded test of every rule. A rule without tests yields one failed result. */
export function runRuleTests(rules: readonly Rule[]): RuleTestResult[] {
  const results: RuleTestResult[] = [];
  for (const rule of rules) {
    if (rule.tests.length === 0) {
      results.push({ rule_id: rule.id, file: rule.file, test: '(none)', passed: false, message: 'rule has no tests', alerts: [] });
      continue;
    }
    for (const test of rule.tests) results.push(runRuleTest(rule, test));
  }
  return results;
}
