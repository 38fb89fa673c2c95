import type { Alert } from './alert-schema.js';
import type { LateLedger, LateScope } from './late-ledger.js';
import { type Rule, ruleKind } from './rule-schema.js';
import { compileRuleSql } from './sql.js';
import { sqlDialect } from './sql-dialect.js';

/**
 * The catch-up pass: what the stream could not evaluate in order (the {@link LateLedger}: late events,
 * state lost to the cap, first_seen alerts to confirm) is re-evaluated with the rule's SQL, the same
 * query `hunt` runs, limited to the touched groups and to the query range that decides every alert in
 * the touched time. Within that scope the SQL is the truth:
 *
 * - an alert it finds that the stream did not raise is a new alert, `origin = 'catch-up'` (its id is
 *   the one the stream would have given it, so the two paths never duplicate an alert);
 * - a streamed alert it finds with more evidence (a late event joined a sequence) gets that evidence;
 * - a streamed alert it does not find (a late event displaced it: an earlier first_seen, an earlier
 *   alert in a suppression bucket, a threshold window whose first N changed) is marked `superseded`;
 *   it stays, because it was delivered.
 *
 * So the current alerts (streamed, not superseded, plus caught up) are what `hunt` returns.
 */

/** Runs a compiled rule query and returns its rows as alerts. */
export type RunRuleSql = (sql: string) => Promise<Alert[]>;

/** The event-time range whose alerts a late scope may change, and the query range that decides them. */
export interface CatchUpRange {
  /** Alerts with alert_time in [from, to) are re-decided. */
  from: number;
  to: number;
  /** Query range (events at or after `since`, before `until`); absent for the whole history (first_seen). */
  since?: number;
  until?: number;
}

const floorTo = (t: number, m: number) => Math.floor(t / m) * m;

/**
 * The range of a rule's alerts that events touching [lo, hi] can change, aligned so that the query
 * range holds every event those alerts depend on (whole threshold windows and suppression buckets,
 * the sequence look-back).
 */
export function catchUpRange(rule: Rule, lo: number, hi: number): CatchUpRange {
  const S = rule.suppress?.micros;
  // The alert times touched, before suppression.
  let from = lo;
  let to = hi + 1;
  let lookBack = 0;
  let align = 0;
  switch (ruleKind(rule)) {
    case 'first_seen':
      // "First" needs the whole history, but only alerts at the touched times can change: a group first
      // seen earlier has its alert from an earlier run, and then this run's one is superseded.
      return { from: lo, to: hi + 1 };
    case 'threshold': {
      const W = rule.threshold!.window.micros;
      from = floorTo(lo, W);
      to = floorTo(hi, W) + W;
      align = W;
      break;
    }
    case 'sequence':
      lookBack = rule.sequence!.within.micros;
      to = hi + lookBack + 1;
      break;
    case 'single':
      break;
  }
  if (S) {
    from = floorTo(from, S);
    to = floorTo(to - 1, S) + S;
  }
  let since = from - lookBack;
  let until = to;
  if (align) {
    since = floorTo(since, align);
    until = floorTo(until - 1, align) + align;
  }
  return { from, to, since, until };
}

/** What the catch-up pass did. */
export interface CatchUpResult {
  /** Alerts the stream did not raise and the lake holds no copy of: `origin = 'catch-up'`. */
  found: Alert[];
  /** Streamed alerts marked superseded. */
  superseded: number;
  /** Streamed alerts whose event list the lake completed. */
  completed: number;
  /** Rules re-evaluated. */
  rules: number;
}

/**
 * The rule's query keeping only the alerts of the re-decided range, so DuckDB hands over no more than
 * the pass compares: for first_seen (the whole history queried) and a scope widened to every group, the
 * rule's full answer could be far larger than this run's alerts.
 */
export function scopedSql(sql: string, range: CatchUpRange): string {
  const micros = sqlDialect('duckdb').micros('alert_time');
  const bounds: string[] = [];
  if (Number.isFinite(range.from)) bounds.push(`${micros} >= ${range.from}`);
  if (Number.isFinite(range.to)) bounds.push(`${micros} < ${range.to}`);
  return bounds.length ? `SELECT * FROM (\n${sql}) AS truth WHERE ${bounds.join(' AND ')}` : sql;
}

function inScope(a: Alert, scope: LateScope, range: CatchUpRange): boolean {
  return a.alert_time >= range.from && a.alert_time < range.to && (scope.groups === null || scope.groups.has(a.group_key));
}

/**
 * Re-evaluates every rule of `ledger` with `run` and reconciles `streamed` (this run's streamed alerts,
 * updated in place). `known` says which of the given alert ids the lake already holds from other runs.
 */
export async function catchUp(
  rules: readonly Rule[],
  ledger: LateLedger,
  streamed: Alert[],
  run: RunRuleSql,
  known: (ids: string[]) => Promise<Set<string>> = async () => new Set(),
): Promise<CatchUpResult> {
  const result: CatchUpResult = { found: [], superseded: 0, completed: 0, rules: 0 };
  const byRule = new Map<string, Alert[]>();
  for (const a of streamed) {
    const list = byRule.get(a.rule_id) ?? [];
    list.push(a);
    byRule.set(a.rule_id, list);
  }
  const candidates: Alert[] = [];
  for (const rule of rules) {
    const scope = ledger.get(rule.id);
    if (!scope) continue;
    result.rules++;
    const range = catchUpRange(rule, scope.from, scope.to);
    const groups = scope.groups ? [...scope.groups] : undefined;
    const sql = compileRuleSql(rule, { dialect: 'duckdb', since: range.since, until: range.until, groups, origin: 'catch-up' });
    const truth = new Map<string, Alert>();
    for (const a of await run(scopedSql(sql, range))) if (inScope(a, scope, range)) truth.set(a.alert_id, a);
    const ours = byRule.get(rule.id) ?? [];
    const raised = new Set<string>();
    for (const a of ours) {
      raised.add(a.alert_id);
      if (!inScope(a, scope, range)) continue;
      const t = truth.get(a.alert_id);
      if (!t) {
        if (!a.superseded) result.superseded++;
        a.superseded = true;
      } else if (t.event_ids.join() !== a.event_ids.join()) {
        a.event_ids = t.event_ids;
        a.event_count = t.event_count;
        result.completed++;
      }
    }
    for (const [id, a] of truth) if (!raised.has(id)) candidates.push(a);
  }
  const already = candidates.length ? await known(candidates.map((a) => a.alert_id)) : new Set<string>();
  result.found = candidates.filter((a) => !already.has(a.alert_id));
  result.found.sort((a, b) => a.alert_time - b.alert_time || a.alert_id.localeCompare(b.alert_id));
  return result;
}
