import { detach } from '../schema/detach.js';
import type { AuditEvent } from '../schema/index.js';
import { groupKeyOf, makeAlert, ruleDetails } from './alert.js';
import type { Alert } from './alert-schema.js';
import { parseDurationMicros } from './duration.js';
import { LateLedger } from './late-ledger.js';
import { compilePredicate, type Predicate } from './predicate.js';
import { ReorderBuffer } from './reorder-buffer.js';
import { type Rule, type RuleKind, ruleKind } from './rule-schema.js';
import { createProcessor, type RuleProcessor } from './rule-state.js';

/**
 * Streaming evaluation of rules over event batches, in EVENT time.
 *
 * Semantics (shared exactly with the SQL of `sql.ts`): every rule sees its matching events in
 * (event_time, event_id) order and scans them as described in `rule-state.ts`: thresholds count in
 * tumbling epoch-aligned windows, sequences look back `within` from the trigger, first_seen keeps the
 * first event per group, suppression keeps the first alert per group and epoch-aligned bucket.
 *
 * Event time is tracked per input stream (a file, a Kinesis shard, a proxy instance): each stream's
 * watermark is the largest event time it has shown minus `lateness`, and the engine's watermark is the
 * smallest over the open streams, so one stream running ahead never makes another one "late". Events
 * are held in a reorder buffer and released, in order, once the watermark passes them; an alert that
 * depends on order goes out `lateness` after its triggering event and is then what SQL over the same
 * events yields. Rules whose alerts do not depend on order (single, unsuppressed) alert at once.
 *
 * An event behind what has been released already (later than the lateness, or a backfill, or an
 * input older than one read before it) is not dropped: it is counted (`late`) and the groups and time
 * it touches are recorded in a {@link LateLedger}, which the catch-up pass (`catch-up.ts`) re-evaluates
 * with the rule's SQL over the lake. So are group states lost to the cap, and every first_seen alert
 * (whose "first" can only be confirmed against history).
 *
 * Memory is bounded and holds no whole events: a held event keeps its time, id and, per rule it met,
 * the group key and distinct value. The buffer holds at most `maxBuffered` events (when full, the
 * earliest is released early, counted as `forced`, and what then arrives behind it is late, i.e.
 * caught up); each rule keeps at most `maxGroups` groups; window state is evicted once the watermark
 * passes it.
 */

/** Options of {@link createRuleEngine}. */
export interface RuleEngineOptions {
  /** How late (in event time) an event may arrive within its stream and still be evaluated in order, e.g. `5m` or `0s` (default `1m`). */
  lateness?: string;
  /** Groups kept per rule and per table before evicting the oldest (default 100,000). */
  maxGroups?: number;
  /** Events held for reordering before the earliest is released early (default 100,000). */
  maxBuffered?: number;
  /** Group keys recorded per rule for the catch-up pass before it widens to every group (default 10,000). */
  maxLateGroups?: number;
}

/** Per-rule counters. */
export interface RuleStats {
  alerts: number;
  suppressed: number;
  /** Events of the rule that arrived behind the released point: left to the catch-up pass. */
  late: number;
  /** Group states kept now. */
  groups: number;
  evicted_expired: number;
  evicted_cap: number;
}

/** What the engine has seen, keeps and left to the catch-up pass. */
export interface RuleEngineStats {
  events: number;
  alerts: number;
  /** Events that arrived behind the released point for at least one rule (re-evaluated by the catch-up pass). */
  late: number;
  /** Events held in the reorder buffer now. */
  buffered: number;
  /** Events released before the watermark passed them because the buffer was full. */
  forced: number;
  /** Input streams open now. */
  streams: number;
  /** Current watermark (µs): the smallest over the open streams; null when none is open. */
  watermark: number | null;
  rules: Record<string, RuleStats>;
}

/** A streaming evaluator of a rule set. */
export interface RuleEngine {
  /** Evaluates a batch of one input stream (default: one stream for everything); returns the alerts that became final. */
  process(events: AuditEvent[], stream?: string): Alert[];
  /**
   * Says a stream has ended (or is idle: at its tip with nothing new), so it no longer holds the
   * watermark back; returns the alerts that became final. A stream that shows events again is open
   * again, and its events behind what was released meanwhile are late.
   */
  endStream(stream: string): Alert[];
  /** Releases everything held (end of input); returns the remaining alerts. */
  flush(): Alert[];
  stats(): RuleEngineStats;
  /** What the catch-up pass must re-evaluate. */
  lateScopes(): LateLedger;
}

interface Compiled {
  rule: Rule;
  kind: RuleKind;
  match: Predicate;
  after: Predicate | null;
  key: (e: AuditEvent) => string;
  /** The distinct field's value as text (distinct thresholds), else null. */
  value: (e: AuditEvent) => string | null;
  /** Order-independent: evaluated at once. */
  immediate: boolean;
  /** The alert of an immediate rule for one event. */
  alertNow: (e: AuditEvent) => Alert;
  processor: RuleProcessor;
  late: number;
  alerts: number;
}

/** What a held event means to one rule: which of its conditions it met, its group and distinct value. */
interface Hit {
  rule: Compiled;
  matched: boolean;
  after: boolean;
  group: string;
  value: string | null;
}

/** A held event: only what the rules read of it, its strings detached from the input. */
interface Pending {
  t: number;
  id: string;
  hits: Hit[];
}

function distinctValue(rule: Rule): (e: AuditEvent) => string | null {
  const field = rule.threshold?.distinct?.field;
  if (!field) return () => null;
  return (e) => {
    const raw = (e as unknown as Record<string, unknown>)[field];
    return raw === null || raw === undefined ? null : String(raw);
  };
}

function compileRule(rule: Rule, maxGroups: number, ledger: LateLedger): Compiled {
  const kind = ruleKind(rule);
  const key = groupKeyOf(rule.group_by);
  const details = ruleDetails(rule);
  return {
    rule,
    kind,
    match: compilePredicate(rule.match),
    after: rule.sequence ? compilePredicate(rule.sequence.after) : null,
    key,
    value: distinctValue(rule),
    immediate: kind === 'single' && !rule.suppress,
    alertNow: (e) =>
      makeAlert(rule, details, {
        groupKey: detach(key(e)),
        windowStart: e.event_time,
        windowEnd: e.event_time,
        alertTime: e.event_time,
        eventIds: [detach(e.event_id)],
      }),
    processor: createProcessor(rule, maxGroups, (group, t) => ledger.add(rule.id, group, t, false)),
    late: 0,
    alerts: 0,
  };
}

/** Parses the `lateness` option: a duration, or a zero in any unit. */
function latenessMicros(text: string | undefined): number {
  const lateness = /^0(ms|s|m|h|d)?$/.test(text ?? '1m') ? 0 : parseDurationMicros(text ?? '1m');
  if (lateness === null) throw new Error(`lateness: expected a duration like 30s or 5m, got ${JSON.stringify(text)}`);
  return lateness;
}

/** Builds an engine for `rules`; conditions are compiled here, once. */
export function createRuleEngine(rules: readonly Rule[], options: RuleEngineOptions = {}): RuleEngine {
  return new StreamingRuleEngine(rules, options);
}

class StreamingRuleEngine implements RuleEngine {
  private readonly lateness: number;
  private readonly maxBuffered: number;
  private readonly ledger: LateLedger;
  private readonly compiled: Compiled[];
  private readonly buffer = new ReorderBuffer<Pending>();
  /** Largest event time of each open stream. */
  private readonly streams = new Map<string, number>();
  /** No event before this time can be evaluated in order any more (released or swept past). */
  private horizon = Number.NEGATIVE_INFINITY;
  private lastT = Number.NEGATIVE_INFINITY;
  private lastId = '';
  private events = 0;
  private late = 0;
  private forced = 0;

  constructor(rules: readonly Rule[], options: RuleEngineOptions) {
    this.lateness = latenessMicros(options.lateness);
    this.maxBuffered = options.maxBuffered ?? 100_000;
    this.ledger = new LateLedger(options.maxLateGroups);
    const maxGroups = options.maxGroups ?? 100_000;
    this.compiled = rules.map((rule) => compileRule(rule, maxGroups, this.ledger));
  }

  process(batch: AuditEvent[], stream = ''): Alert[] {
    const out: Alert[] = [];
    let max = this.streams.get(stream) ?? Number.NEGATIVE_INFINITY;
    for (const e of batch) {
      this.events++;
      if (e.event_time > max) max = e.event_time;
      const pending = this.evaluate(e, out);
      if (pending && this.buffer.push(pending) && this.buffer.size > this.maxBuffered) {
        this.forced++;
        this.release(this.buffer.pop()!, out);
      }
    }
    this.streams.set(stream, max);
    this.drain(this.watermark(), out);
    return out;
  }

  /**
   * Runs an event past every rule: immediate rules alert now, an event behind the released point is
   * left to the catch-up pass, and the rest is returned to be held (null when no rule wants it).
   */
  private evaluate(e: AuditEvent, out: Alert[]): Pending | null {
    const t = e.event_time;
    const behind = t < this.horizon || (t === this.lastT && e.event_id <= this.lastId);
    let pending: Pending | null = null;
    let counted = false;
    for (const c of this.compiled) {
      const matched = c.match(e);
      const after = c.after ? c.after(e) : false;
      if (!matched && !after) continue;
      if (c.immediate) {
        c.alerts++;
        out.push(c.alertNow(e));
      } else if (behind) {
        c.late++;
        if (!counted) this.late++;
        counted = true;
        this.ledger.add(c.rule.id, detach(c.key(e)), t, true);
      } else {
        // Held strings are copies (`detach.ts`): a slice of the input would keep its whole chunk alive.
        pending ??= { t, id: detach(e.event_id), hits: [] };
        pending.hits.push({ rule: c, matched, after, group: detach(c.key(e)), value: detach(c.value(e)) });
      }
    }
    return pending;
  }

  private release(p: Pending, out: Alert[]): void {
    if (p.t > this.horizon) this.horizon = p.t;
    this.lastT = p.t;
    this.lastId = p.id;
    for (const hit of p.hits) {
      const c = hit.rule;
      const input = { t: p.t, id: p.id, group: hit.group, value: hit.value };
      c.processor.onEvent(input, hit.matched, hit.after, (a) => {
        c.alerts++;
        // A first_seen alert is "first" only in what this run saw: the catch-up pass checks it against history.
        if (c.kind === 'first_seen') this.ledger.add(c.rule.id, a.group_key, a.alert_time, false);
        out.push(a);
      });
    }
  }

  private watermark(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const max of this.streams.values()) if (max < min) min = max;
    return min === Number.POSITIVE_INFINITY ? Number.NEGATIVE_INFINITY : min - this.lateness;
  }

  private drain(until: number, out: Alert[]): void {
    for (let top = this.buffer.peek(); top !== undefined && top.t < until; top = this.buffer.peek()) this.release(this.buffer.pop()!, out);
    if (until > this.horizon) this.horizon = until;
    for (const c of this.compiled) c.processor.sweep(this.horizon);
  }

  endStream(stream: string): Alert[] {
    const max = this.streams.get(stream);
    const out: Alert[] = [];
    if (max === undefined) return out;
    this.streams.delete(stream);
    // The last stream to end releases what it alone would have (as when it was the only one open).
    this.drain(this.streams.size > 0 ? this.watermark() : max - this.lateness, out);
    return out;
  }

  flush(): Alert[] {
    const out: Alert[] = [];
    this.drain(Number.POSITIVE_INFINITY, out);
    this.streams.clear();
    return out;
  }

  stats(): RuleEngineStats {
    const rules: Record<string, RuleStats> = {};
    for (const c of this.compiled) {
      const s = c.processor.state();
      rules[c.rule.id] = {
        alerts: c.alerts,
        suppressed: s.suppressed,
        late: c.late,
        groups: s.groups,
        evicted_expired: s.evicted_expired,
        evicted_cap: s.evicted_cap,
      };
    }
    const w = this.watermark();
    return {
      events: this.events,
      alerts: this.compiled.reduce((n, c) => n + c.alerts, 0),
      late: this.late,
      buffered: this.buffer.size,
      forced: this.forced,
      streams: this.streams.size,
      watermark: Number.isFinite(w) ? w : null,
      rules,
    };
  }

  lateScopes(): LateLedger {
    return this.ledger;
  }
}
