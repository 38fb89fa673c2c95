import type { AuditEvent } from '../schema/index.js';
import { groupKeyOf, makeAlert, ruleDetails } from './alert.js';
import type { Alert } from './alert-schema.js';
import { parseDurationMicros } from './duration.js';
import { compilePredicate, type Predicate } from './predicate.js';
import { ReorderBuffer } from './reorder-buffer.js';
import { type Rule, ruleKind } from './rule-schema.js';
import { createProcessor, type RuleProcessor } from './rule-state.js';

/**
 * Streaming evaluation of rules over event batches, in EVENT time.
 *
 * Semantics (shared exactly with the SQL of `sql.ts`): every rule sees its matching events in
 * (event_time, event_id) order and scans them as described in `rule-state.ts`: thresholds count in
 * tumbling epoch-aligned windows, sequences look back `within` from the trigger, first_seen keeps the
 * first event per group, suppression keeps the first alert per group and epoch-aligned bucket.
 *
 * Out-of-order input: the watermark is the largest event time seen minus `lateness`. An event at or
 * after the watermark is held in a reorder buffer and released, in order, once the watermark passes
 * it; so an alert that depends on order goes out `lateness` after its triggering event, and is then
 * exactly what SQL over the same events yields. An event before the watermark is dropped for those
 * rules (counted as `late_dropped`). Rules whose alerts do not depend on order (no threshold, sequence,
 * first_seen or suppression) evaluate every event at once, late or not.
 *
 * Memory is bounded: the reorder buffer holds at most `maxBuffered` events (when full, the earliest is
 * released early, counted as `forced`); each rule keeps at most `maxGroups` groups (when full, the
 * least recently touched is evicted, counted); window state is evicted once the watermark passes it.
 */

/** Options of {@link createRuleEngine}. */
export interface RuleEngineOptions {
  /** How late (in event time) an event may arrive and still count, e.g. `5m` or `0s` (default `1m`). */
  lateness?: string;
  /** Groups kept per rule and per table before evicting the oldest (default 100,000). */
  maxGroups?: number;
  /** Events held for reordering before the earliest is released early (default 1,000,000). */
  maxBuffered?: number;
}

/** Per-rule counters. */
export interface RuleStats {
  alerts: number;
  suppressed: number;
  late_dropped: number;
  /** Group states kept now. */
  groups: number;
  evicted_expired: number;
  evicted_cap: number;
}

/** What the engine has seen, keeps and dropped. */
export interface RuleEngineStats {
  events: number;
  alerts: number;
  late_dropped: number;
  /** Events held in the reorder buffer now. */
  buffered: number;
  /** Events released before the watermark passed them because the buffer was full. */
  forced: number;
  /** Current watermark (µs), null before the first event. */
  watermark: number | null;
  rules: Record<string, RuleStats>;
}

/** A streaming evaluator of a rule set. */
export interface RuleEngine {
  /** Evaluates a batch; returns the alerts that became final. */
  process(events: AuditEvent[]): Alert[];
  /** Releases everything held (end of input); returns the remaining alerts. */
  flush(): Alert[];
  stats(): RuleEngineStats;
}

interface Compiled {
  rule: Rule;
  match: Predicate;
  after: Predicate | null;
  /** Order-independent: evaluated at once. */
  immediate: boolean;
  processor: RuleProcessor;
  late: number;
  alerts: number;
}

/** A held event and, per rule index, which conditions it met (bit 1: match, bit 2: after). */
interface Pending {
  t: number;
  id: string;
  event: AuditEvent;
  roles: number[];
}

/** Builds an engine for `rules`; conditions are compiled here, once. */
export function createRuleEngine(rules: readonly Rule[], options: RuleEngineOptions = {}): RuleEngine {
  const latenessText = options.lateness ?? '1m';
  const lateness = /^0(ms|s|m|h|d)?$/.test(latenessText) ? 0 : parseDurationMicros(latenessText);
  if (lateness === null) throw new Error(`lateness: expected a duration like 30s or 5m, got ${JSON.stringify(options.lateness)}`);
  const maxGroups = options.maxGroups ?? 100_000;
  const maxBuffered = options.maxBuffered ?? 1_000_000;
  const compiled: Compiled[] = rules.map((rule) => ({
    rule,
    match: compilePredicate(rule.match),
    after: rule.sequence ? compilePredicate(rule.sequence.after) : null,
    immediate: ruleKind(rule) === 'single' && !rule.suppress,
    processor: createProcessor(rule, maxGroups),
    late: 0,
    alerts: 0,
  }));
  const immediateAlert = compiled.map((c) => {
    const key = groupKeyOf(c.rule.group_by);
    const details = ruleDetails(c.rule);
    return (e: AuditEvent) =>
      makeAlert(c.rule, details, {
        groupKey: key(e),
        windowStart: e.event_time,
        windowEnd: e.event_time,
        alertTime: e.event_time,
        eventIds: [e.event_id],
      });
  });
  const buffer = new ReorderBuffer<Pending>();
  let maxSeen = Number.NEGATIVE_INFINITY;
  let released = Number.NEGATIVE_INFINITY;
  let events = 0;
  let forced = 0;

  const release = (p: Pending, out: Alert[]) => {
    released = p.t;
    for (let k = 0; k < p.roles.length; k += 2) {
      const c = compiled[p.roles[k]];
      const roles = p.roles[k + 1];
      c.processor.onEvent(p.event, (roles & 1) !== 0, (roles & 2) !== 0, (a) => {
        c.alerts++;
        out.push(a);
      });
    }
  };

  const drain = (watermark: number, out: Alert[]) => {
    for (let top = buffer.peek(); top !== undefined && top.t < watermark; top = buffer.peek()) release(buffer.pop()!, out);
    // Every event released from now on is at or after the watermark (after a flush: after the last released).
    const now = Number.isFinite(watermark) ? watermark : released;
    for (const c of compiled) c.processor.sweep(now);
  };

  const process = (batch: AuditEvent[]): Alert[] => {
    const out: Alert[] = [];
    for (const e of batch) {
      events++;
      const t = e.event_time;
      if (t > maxSeen) maxSeen = t;
      const late = t < maxSeen - lateness || t <= released;
      let pending: Pending | null = null;
      for (let i = 0; i < compiled.length; i++) {
        const c = compiled[i];
        const matched = c.match(e);
        const after = c.after ? c.after(e) : false;
        if (!matched && !after) continue;
        if (c.immediate) {
          c.alerts++;
          out.push(immediateAlert[i](e));
        } else if (late) {
          c.late++;
        } else {
          pending ??= { t, id: e.event_id, event: e, roles: [] };
          pending.roles.push(i, (matched ? 1 : 0) | (after ? 2 : 0));
        }
      }
      if (pending) {
        buffer.push(pending);
        if (buffer.size > maxBuffered) {
          forced++;
          release(buffer.pop()!, out);
        }
      }
    }
    drain(maxSeen - lateness, out);
    return out;
  };

  const flush = (): Alert[] => {
    const out: Alert[] = [];
    drain(Number.POSITIVE_INFINITY, out);
    return out;
  };

  const stats = (): RuleEngineStats => {
    const perRule: Record<string, RuleStats> = {};
    for (const c of compiled) {
      const s = c.processor.state();
      perRule[c.rule.id] = {
        alerts: c.alerts,
        suppressed: s.suppressed,
        late_dropped: c.late,
        groups: s.groups,
        evicted_expired: s.evicted_expired,
        evicted_cap: s.evicted_cap,
      };
    }
    return {
      events,
      alerts: compiled.reduce((n, c) => n + c.alerts, 0),
      late_dropped: compiled.reduce((n, c) => n + c.late, 0),
      buffered: buffer.size,
      forced,
      watermark: maxSeen === Number.NEGATIVE_INFINITY ? null : maxSeen - lateness,
      rules: perRule,
    };
  };

  return { process, flush, stats };
}
