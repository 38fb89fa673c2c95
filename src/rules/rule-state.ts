import { type AlertFacts, makeAlert, ruleDetails } from './alert.js';
import type { Alert } from './alert-schema.js';
import { GroupTable } from './group-table.js';
import { type Rule, ruleKind } from './rule-schema.js';

/**
 * The in-order state machine of each rule kind. The engine hands events to {@link RuleProcessor}s in
 * (event_time, event_id) order, so each kind is a simple scan; `sql.ts` expresses the same scan with
 * window functions. All state lives in {@link GroupTable}s, which bound it, and holds only what the
 * rule reads: event times, event ids and the counted distinct values, never whole events.
 */

/** What a processor reads of an event: its time, id, group key and (for distinct thresholds) value. */
export interface RuleInput {
  t: number;
  id: string;
  group: string;
  /** The distinct field's value as text, null when absent (distinct thresholds only). */
  value: string | null;
}

/** Told of group state lost to the cap: the group and the event time from which its loss matters. */
export type OnCapEvict = (group: string, t: number) => void;

/** Receives alerts. */
export type Emit = (alert: Alert) => void;

/** One rule's state machine. */
export interface RuleProcessor {
  /** The next event in order; `matched`/`after` say which of the rule's conditions it met. */
  onEvent(input: RuleInput, matched: boolean, after: boolean, emit: Emit): void;
  /** Drops state that no event at or after `now` can use. */
  sweep(now: number): void;
  /** State kept and evicted, for stats. */
  state(): { groups: number; evicted_expired: number; evicted_cap: number; suppressed: number };
}

/**
 * Suppression: at most one alert per group per bucket `floor(alert_time / suppress)` of the epoch-
 * aligned grid; the first alert in event order wins. Tumbling buckets (not "30 minutes after the last
 * alert") because SQL can express them without recursion, so both engines agree exactly.
 */
class Suppressor {
  readonly table: GroupTable<number>;
  suppressed = 0;
  constructor(
    private readonly micros: number,
    capacity: number,
    onCapEvict: OnCapEvict,
  ) {
    this.table = new GroupTable<number>(
      capacity,
      (bucket) => (bucket + 1) * micros,
      (g, bucket) => onCapEvict(g, bucket * micros),
    );
  }

  /** True when an alert of `group` at `time` may go out (and records it). */
  allow(group: string, time: number): boolean {
    const bucket = Math.floor(time / this.micros);
    if (this.table.get(group) === bucket) {
      this.suppressed++;
      return false;
    }
    this.table.touch(group, bucket);
    return true;
  }
}

/** Builds the processor of a rule; `capacity` bounds its groups, `onCapEvict` hears of state lost to it. */
export function createProcessor(rule: Rule, capacity: number, onCapEvict: OnCapEvict = () => {}): RuleProcessor {
  const details = ruleDetails(rule);
  const suppressor = rule.suppress ? new Suppressor(rule.suppress.micros, capacity, onCapEvict) : null;
  const send = (emit: Emit, facts: AlertFacts) => {
    if (!suppressor || suppressor.allow(facts.groupKey, facts.alertTime)) emit(makeAlert(rule, details, facts));
  };
  const tables: GroupTable<unknown>[] = suppressor ? [suppressor.table as GroupTable<unknown>] : [];
  const state = () => ({
    groups: tables.reduce((n, t) => n + t.size, 0),
    evicted_expired: tables.reduce((n, t) => n + t.evictedExpired, 0),
    evicted_cap: tables.reduce((n, t) => n + t.evictedCap, 0),
    suppressed: suppressor?.suppressed ?? 0,
  });
  const sweep = (now: number) => {
    for (const t of tables) t.sweep(now);
  };
  const onEvent = eventHandler(rule, capacity, onCapEvict, tables, send);
  return { onEvent, sweep, state };
}

type Send = (emit: Emit, facts: AlertFacts) => void;
type Handler = RuleProcessor['onEvent'];

function eventHandler(rule: Rule, capacity: number, onCapEvict: OnCapEvict, tables: GroupTable<unknown>[], send: Send): Handler {
  switch (ruleKind(rule)) {
    case 'single':
      return singleHandler(rule, send);
    case 'threshold':
      return thresholdHandler(rule, capacity, onCapEvict, tables, send);
    case 'sequence':
      return sequenceHandler(rule, capacity, onCapEvict, tables, send);
    case 'first_seen':
      return firstSeenHandler(capacity, onCapEvict, tables, send);
  }
}

/** Single: the event is the alert. With suppression its window is the suppression bucket. */
function singleHandler(rule: Rule, send: Send): Handler {
  const s = rule.suppress?.micros;
  return (e, matched, _after, emit) => {
    if (!matched) return;
    const t = e.t;
    const start = s ? Math.floor(t / s) * s : t;
    send(emit, { groupKey: e.group, windowStart: start, windowEnd: s ? start + s : t, alertTime: t, eventIds: [e.id] });
  };
}

interface WindowState {
  w: number;
  ids: string[];
  values: Set<string> | null;
  fired: boolean;
}

/**
 * Threshold over tumbling windows `[k·W, (k+1)·W)` aligned to the epoch: the alert fires at the event
 * that brings the group's count (or distinct non-null values) in the window to N, once per window.
 * Its events are the first N (for distinct: the first event of each of the first N values).
 */
function thresholdHandler(rule: Rule, capacity: number, onCapEvict: OnCapEvict, tables: GroupTable<unknown>[], send: Send): Handler {
  const threshold = rule.threshold!;
  const W = threshold.window.micros;
  const distinct = threshold.distinct !== undefined;
  const N = threshold.distinct?.count ?? (threshold.count as number);
  const table = new GroupTable<WindowState>(
    capacity,
    (s) => (s.w + 1) * W,
    (g, s) => onCapEvict(g, s.w * W),
  );
  tables.unshift(table as GroupTable<unknown>);
  return (e, matched, _after, emit) => {
    if (!matched) return;
    const t = e.t;
    const value = e.value;
    if (distinct && value === null) return;
    const g = e.group;
    const w = Math.floor(t / W);
    let s = table.get(g);
    if (!s || s.w !== w) {
      s = { w, ids: [], values: distinct ? new Set() : null, fired: false };
      table.touch(g, s);
    }
    if (s.fired) return;
    if (s.values) {
      if (s.values.has(value as string)) return;
      s.values.add(value as string);
    }
    s.ids.push(e.id);
    if (s.ids.length < N) return;
    s.fired = true;
    const ids = s.ids;
    s.ids = [];
    s.values = null;
    send(emit, { groupKey: g, windowStart: w * W, windowEnd: (w + 1) * W, alertTime: t, eventIds: ids });
  };
}

interface PriorState {
  ts: number[];
  ids: string[];
}

/**
 * Sequence: an event matching `match` fires when the group's N most recent earlier events matching
 * `after` (earlier in (event_time, event_id) order) all lie within `[t - within, t]`. Its events are
 * those N followed by the trigger; its window is `[t - within, t]`. Only the last N are kept.
 */
function sequenceHandler(rule: Rule, capacity: number, onCapEvict: OnCapEvict, tables: GroupTable<unknown>[], send: Send): Handler {
  const { count: N, within } = rule.sequence!;
  const span = within.micros;
  const table = new GroupTable<PriorState>(
    capacity,
    (s) => s.ts[s.ts.length - 1] + span,
    (g, s) => onCapEvict(g, s.ts[s.ts.length - 1]),
  );
  tables.unshift(table as GroupTable<unknown>);
  return (e, matched, after, emit) => {
    const t = e.t;
    const g = e.group;
    let s = table.get(g);
    if (matched && s && s.ts.length === N && s.ts[0] >= t - span) {
      send(emit, { groupKey: g, windowStart: t - span, windowEnd: t, alertTime: t, eventIds: [...s.ids, e.id] });
    }
    if (!after) return;
    s ??= { ts: [], ids: [] };
    s.ts.push(t);
    s.ids.push(e.id);
    if (s.ts.length > N) {
      s.ts.shift();
      s.ids.shift();
    }
    table.touch(g, s);
  };
}

/**
 * First seen: the first matching event of each group since the state began. The table never expires
 * by time; when full, the least recently seen group is forgotten (counted) and may alert again.
 */
function firstSeenHandler(capacity: number, onCapEvict: OnCapEvict, tables: GroupTable<unknown>[], send: Send): Handler {
  const table = new GroupTable<number>(
    capacity,
    () => Number.POSITIVE_INFINITY,
    (g, t) => onCapEvict(g, t),
  );
  tables.unshift(table as GroupTable<unknown>);
  return (e, matched, _after, emit) => {
    if (!matched) return;
    const g = e.group;
    const first = table.get(g);
    table.touch(g, first ?? e.t);
    if (first === undefined) send(emit, { groupKey: g, windowStart: e.t, windowEnd: e.t, alertTime: e.t, eventIds: [e.id] });
  };
}
