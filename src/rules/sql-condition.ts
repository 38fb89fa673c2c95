import type { Condition, Leaf, Scalar } from './condition.js';
import { EVENT_HOUR, EVENT_WEEKDAY } from './rule-fields.js';
import { literal, type SqlDialect } from './sql-dialect.js';

/**
 * A condition as a SQL boolean expression over `audit_events`. NULL never leaks: each leaf is wrapped
 * in COALESCE(..., FALSE) so NOT over a missing value behaves as in the JS predicate (a missing value
 * satisfies nothing but `is_null`).
 */

/** Quotes a column name. */
export function column(name: string): string {
  return `"${name}"`;
}

/** `t` is the event time in microseconds, computed once per row by the query. */
function fieldExpr(name: string, d: SqlDialect): string {
  if (name === EVENT_HOUR) return `(${d.div('t', 3_600_000_000)} % 24)`;
  if (name === EVENT_WEEKDAY) return `(((${d.div('t', 86_400_000_000)} + 3) % 7) + 1)`;
  if (name === 'event_time' || name === 'ingest_time') return name === 'event_time' ? 't' : d.micros(column(name));
  return column(name);
}

function scalar(value: Scalar): string {
  if (typeof value === 'string') return literal(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  return String(value);
}

/** The SQL of a condition. */
export function conditionSql(condition: Condition, d: SqlDialect): string {
  switch (condition.kind) {
    case 'all':
      return `(${condition.items.map((c) => conditionSql(c, d)).join(' AND ')})`;
    case 'any':
      return `(${condition.items.map((c) => conditionSql(c, d)).join(' OR ')})`;
    case 'not':
      return `(NOT ${conditionSql(condition.item, d)})`;
    case 'leaf':
      return leafSql(condition, d);
  }
}

function leafSql(leaf: Leaf, d: SqlDialect): string {
  const raw = fieldExpr(leaf.field.name, d);
  if (leaf.op === 'is_null') return `(${raw} IS ${leaf.value ? '' : 'NOT '}NULL)`;
  const f = leaf.ignoreCase ? `lower(${raw})` : raw;
  const v = (s: Scalar) => (leaf.ignoreCase ? `lower(${scalar(s)})` : scalar(s));
  let test: string;
  switch (leaf.op) {
    case 'equals':
      test = `${f} = ${v(leaf.value as Scalar)}`;
      break;
    case 'in':
      test = `${f} IN (${(leaf.value as Scalar[]).map(v).join(', ')})`;
      break;
    case 'prefix':
      test = `starts_with(${f}, ${v(leaf.value as Scalar)})`;
      break;
    case 'regex':
      test = d.regex(raw, leaf.value as string, leaf.ignoreCase);
      break;
    default: {
      const ops = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
      test = `${f} ${ops[leaf.op]} ${scalar(leaf.value as Scalar)}`;
    }
  }
  return `COALESCE(${test}, FALSE)`;
}
