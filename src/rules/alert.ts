import { createHash } from 'node:crypto';
import type { AuditEvent } from '../schema/index.js';
import type { Alert } from './alert-schema.js';
import { type Rule, ruleKind } from './rule-schema.js';

/**
 * Building alerts, shared by the streaming engine and mirrored by the SQL compiler (`sql.ts`): the
 * group key text, the alert id and the details JSON must come out byte-identical from both.
 */

/** What an alert is about, as the engine found it. */
export interface AlertFacts {
  groupKey: string;
  windowStart: number;
  windowEnd: number;
  /** Event time of the triggering event. */
  alertTime: number;
  /** Ids of the events behind the alert, in (event_time, event_id) order; the trigger is last. */
  eventIds: string[];
}

/** Separator of the alert id's hashed parts (the SQL compiler uses the same). */
export const ALERT_ID_SEPARATOR = '|';

/** Alert id: first 32 hex digits of sha256(rule id | group key | window start µs | triggering event id). */
export function alertId(ruleId: string, groupKey: string, windowStart: number, triggerId: string): string {
  const text = [ruleId, groupKey, String(windowStart), triggerId].join(ALERT_ID_SEPARATOR);
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/** Text form of a group value: `String(v)` for text, integers and booleans; empty for null. */
function groupValue(value: unknown): string {
  return value === null || value === undefined ? '' : String(value);
}

/** A function from an event to its group key `field=value,field=value` (empty when ungrouped). */
export function groupKeyOf(fields: readonly string[]): (event: AuditEvent) => string {
  if (fields.length === 0) return () => '';
  if (fields.length === 1) {
    const [name] = fields;
    const prefix = `${name}=`;
    return (e) => prefix + groupValue((e as unknown as Record<string, unknown>)[name]);
  }
  const prefixes = fields.map((name, i) => `${i === 0 ? '' : ','}${name}=`);
  return (e) => {
    const record = e as unknown as Record<string, unknown>;
    let key = '';
    for (let i = 0; i < fields.length; i++) key += prefixes[i] + groupValue(record[fields[i]]);
    return key;
  };
}

/** The details JSON of a rule's alerts: its kind and settings (the same for every alert of the rule). */
export function ruleDetails(rule: Rule): string {
  const details: Record<string, unknown> = { kind: ruleKind(rule) };
  if (rule.group_by.length > 0) details.group_by = rule.group_by;
  if (rule.threshold) {
    details.window = rule.threshold.window.text;
    if (rule.threshold.count !== undefined) details.count = rule.threshold.count;
    if (rule.threshold.distinct) details.distinct = rule.threshold.distinct;
  }
  if (rule.sequence) details.sequence = { count: rule.sequence.count, within: rule.sequence.within.text };
  if (rule.suppress) details.suppress = rule.suppress.text;
  return JSON.stringify(details);
}

/** Turns facts into an alert of `rule`. */
export function makeAlert(rule: Rule, details: string, facts: AlertFacts): Alert {
  return {
    alert_id: alertId(rule.id, facts.groupKey, facts.windowStart, facts.eventIds[facts.eventIds.length - 1]),
    rule_id: rule.id,
    severity: rule.severity,
    title: rule.title,
    description: rule.description,
    tags: rule.tags,
    alert_time: facts.alertTime,
    window_start: facts.windowStart,
    window_end: facts.windowEnd,
    group_key: facts.groupKey,
    event_count: facts.eventIds.length,
    event_ids: facts.eventIds,
    details,
    origin: 'stream',
    superseded: false,
  };
}
