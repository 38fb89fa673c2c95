import { parseTimestampMicros, utcDate } from '../schema/index.js';
import { ALERT_ID_SEPARATOR, ruleDetails } from './alert.js';
import { ALERT_FIELDS, type ALERT_ORIGINS } from './alert-schema.js';
import { type Rule, ruleKind } from './rule-schema.js';
import { column, conditionSql } from './sql-condition.js';
import { type Dialect, literal, type SqlDialect, sqlDialect } from './sql-dialect.js';

/**
 * Compiles a rule into one query over `audit_events` (the Athena table, or the DuckDB view of the same
 * name) that returns the alerts the streaming engine raises over the same events: the columns of
 * `ALERT_FIELDS`, in order. Each rule kind is the engine's in-order scan (`rule-state.ts`) written with
 * window functions ordered by (event_time, event_id); windows and suppression buckets are tumbling and
 * aligned to the epoch in both, so there is nothing recursive to express.
 *
 * Query range: `since`/`until` filter events (and prune `event_date` partitions). A threshold window,
 * sequence look-back or suppression bucket cut by `since` sees only the events inside the range, so
 * choose `since` on a window boundary; `first_seen` means "first in the queried range".
 */

/** Options of {@link compileRuleSql}. */
export interface CompileSqlOptions {
  dialect: Dialect;
  /** Only events at or after this time (ISO-8601 text or µs since the epoch). */
  since?: string | number;
  /** Only events before this time (ISO-8601 text or µs since the epoch). */
  until?: string | number;
  /** Table or view to read (default `audit_events`). */
  table?: string;
  /** Only these group keys (the catch-up pass re-evaluates the groups late events touched). */
  groups?: readonly string[];
  /** The `origin` column of the alerts (default `hunt`). */
  origin?: (typeof ALERT_ORIGINS)[number];
}

function micros(value: string | number, what: string): number {
  const parsed = typeof value === 'number' ? value : parseTimestampMicros(value);
  if (parsed === null || !Number.isSafeInteger(parsed)) throw new Error(`${what}: not a timestamp: ${value}`);
  return parsed;
}

function groupKeySql(fields: readonly string[], d: SqlDialect): string {
  if (fields.length === 0) return "''";
  return fields.map((f, i) => `${literal(`${i === 0 ? '' : ','}${f}=`)} || COALESCE(CAST(${column(f)} AS ${d.text}), '')`).join(' || ');
}

const ORDER = 't, event_id';

/** The CTEs after `ev` that yield `cand(group_key, window_start, window_end, alert_time, trigger_id, event_ids, event_count)`. */
function candidates(rule: Rule, d: SqlDialect): string[] {
  switch (ruleKind(rule)) {
    case 'single': {
      if (!rule.suppress) {
        return [
          `cand AS (SELECT group_key, t AS window_start, t AS window_end, t AS alert_time, event_id AS trigger_id, ${d.single('event_id')} AS event_ids, 1 AS event_count FROM ev WHERE m_match)`,
        ];
      }
      const S = rule.suppress.micros;
      return [
        `ranked AS (SELECT *, ${d.div('t', S)} AS b, row_number() OVER (PARTITION BY group_key, ${d.div('t', S)} ORDER BY ${ORDER}) AS rn FROM ev WHERE m_match)`,
        `cand AS (SELECT group_key, b * ${S} AS window_start, (b + 1) * ${S} AS window_end, t AS alert_time, event_id AS trigger_id, ${d.single('event_id')} AS event_ids, 1 AS event_count FROM ranked WHERE rn = 1)`,
      ];
    }
    case 'threshold': {
      const th = rule.threshold!;
      const W = th.window.micros;
      const N = th.distinct?.count ?? (th.count as number);
      const ranked = th.distinct
        ? [
            `firsts AS (SELECT *, ${d.div('t', W)} AS w, row_number() OVER (PARTITION BY group_key, ${d.div('t', W)}, dv ORDER BY ${ORDER}) AS vn FROM ev WHERE m_match AND dv IS NOT NULL)`,
            `ranked AS (SELECT *, row_number() OVER (PARTITION BY group_key, w ORDER BY ${ORDER}) AS rn FROM firsts WHERE vn = 1)`,
          ]
        : [
            `ranked AS (SELECT *, ${d.div('t', W)} AS w, row_number() OVER (PARTITION BY group_key, ${d.div('t', W)} ORDER BY ${ORDER}) AS rn FROM ev WHERE m_match)`,
          ];
      return [
        ...ranked,
        `cand AS (SELECT group_key, w * ${W} AS window_start, (w + 1) * ${W} AS window_end, max(t) AS alert_time, max(CASE WHEN rn = ${N} THEN event_id END) AS trigger_id, ${d.listAgg('event_id', ORDER)} AS event_ids, count(*) AS event_count FROM ranked WHERE rn <= ${N} GROUP BY group_key, w HAVING count(*) = ${N})`,
      ];
    }
    case 'sequence': {
      const { count: N, within } = rule.sequence!;
      const span = within.micros;
      return [
        'trig AS (SELECT event_id, t, group_key FROM ev WHERE m_match)',
        'priors AS (SELECT event_id, t, group_key FROM ev WHERE m_after)',
        `pairs AS (SELECT tr.group_key, tr.t AS alert_time, tr.event_id AS trigger_id, p.event_id, p.t, row_number() OVER (PARTITION BY tr.event_id ORDER BY p.t DESC, p.event_id DESC) AS rn FROM trig tr JOIN priors p ON p.group_key = tr.group_key AND p.t >= tr.t - ${span} AND (p.t < tr.t OR (p.t = tr.t AND p.event_id < tr.event_id)))`,
        `cand AS (SELECT group_key, alert_time - ${span} AS window_start, alert_time AS window_end, alert_time, trigger_id, ${d.append(d.listAgg('event_id', ORDER), 'trigger_id')} AS event_ids, count(*) + 1 AS event_count FROM pairs WHERE rn <= ${N} GROUP BY group_key, alert_time, trigger_id HAVING count(*) = ${N})`,
      ];
    }
    case 'first_seen':
      return [
        `ranked AS (SELECT *, row_number() OVER (PARTITION BY group_key ORDER BY ${ORDER}) AS rn FROM ev WHERE m_match)`,
        `cand AS (SELECT group_key, t AS window_start, t AS window_end, t AS alert_time, event_id AS trigger_id, ${d.single('event_id')} AS event_ids, 1 AS event_count FROM ranked WHERE rn = 1)`,
      ];
  }
}

/** Compiles `rule` to a query returning its alerts, columns as `ALERT_FIELDS`. */
export function compileRuleSql(rule: Rule, options: CompileSqlOptions): string {
  const d = sqlDialect(options.dialect);
  const kind = ruleKind(rule);
  const since = options.since === undefined ? null : micros(options.since, 'since');
  const until = options.until === undefined ? null : micros(options.until, 'until');
  const partitions: string[] = [];
  if (since !== null) partitions.push(`event_date >= ${literal(utcDate(since))}`);
  if (until !== null) partitions.push(`event_date <= ${literal(utcDate(until))}`);
  const match = conditionSql(rule.match, d);
  const after = rule.sequence ? conditionSql(rule.sequence.after, d) : null;
  const filters = [after ? `(m_match OR m_after)` : 'm_match'];
  if (since !== null) filters.push(`t >= ${since}`);
  if (until !== null) filters.push(`t < ${until}`);
  const evColumns = ['event_id', 't', `${groupKeySql(rule.group_by, d)} AS group_key`, `${match} AS m_match`];
  if (after) evColumns.push(`${after} AS m_after`);
  if (rule.threshold?.distinct) evColumns.push(`${column(rule.threshold.distinct.field)} AS dv`);
  if (options.groups) filters.push(options.groups.length ? `group_key IN (${options.groups.map(literal).join(', ')})` : 'false');
  const ctes = [
    `base AS (SELECT *, ${d.micros('event_time')} AS t FROM ${options.table ?? 'audit_events'}${partitions.length ? ` WHERE ${partitions.join(' AND ')}` : ''})`,
    `flagged AS (SELECT ${evColumns.join(', ')} FROM base)`,
    `ev AS (SELECT * FROM flagged WHERE ${filters.join(' AND ')})`,
    ...candidates(rule, d),
  ];
  let source = 'cand';
  if (rule.suppress && kind !== 'single') {
    const S = rule.suppress.micros;
    ctes.push(
      `kept AS (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY group_key, ${d.div('alert_time', S)} ORDER BY alert_time, trigger_id) AS sn FROM cand) AS c WHERE sn = 1)`,
    );
    source = 'kept';
  }
  const sep = ALERT_ID_SEPARATOR;
  const values: Record<(typeof ALERT_FIELDS)[number]['name'], string> = {
    alert_id: d.hash32(
      `${literal(rule.id + sep)} || group_key || ${literal(sep)} || CAST(window_start AS ${d.text}) || ${literal(sep)} || trigger_id`,
    ),
    rule_id: literal(rule.id),
    severity: literal(rule.severity),
    title: literal(rule.title),
    description: literal(rule.description),
    tags: d.textList(rule.tags),
    alert_time: d.timestamp('alert_time'),
    window_start: d.timestamp('window_start'),
    window_end: d.timestamp('window_end'),
    group_key: 'group_key',
    event_count: 'CAST(event_count AS BIGINT)',
    event_ids: 'event_ids',
    details: literal(ruleDetails(rule)),
    origin: literal(options.origin ?? 'hunt'),
    superseded: 'false',
  };
  const select = ALERT_FIELDS.map((f) => `  ${values[f.name]} AS ${column(f.name)}`).join(',\n');
  return `-- rule ${rule.id} (${kind}), ${options.dialect}\nWITH\n${ctes.map((c) => `  ${c}`).join(',\n')}\nSELECT\n${select}\nFROM ${source}\nORDER BY alert_time, trigger_id\n`;
}
