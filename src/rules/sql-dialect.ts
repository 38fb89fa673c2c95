/**
 * The few places where DuckDB and Athena (Trino) SQL differ, so the rule compiler writes one query
 * shape for both. Timestamps are handled as BIGINT microseconds since the epoch inside the query and
 * turned back into timestamps only in the output columns.
 */

/** A SQL dialect the rules compile to. */
export type Dialect = 'duckdb' | 'athena';

/** Dialect-specific expressions. */
export interface SqlDialect {
  /** BIGINT microseconds since the epoch of a timestamp column. */
  micros(column: string): string;
  /** A timestamp from BIGINT microseconds. */
  timestamp(micros: string): string;
  /** Integer division of non-negative BIGINTs. */
  div(a: string, b: string | number): string;
  /** True when `text` contains a match of `pattern` (RE2 syntax; `ignoreCase` as a flag). */
  regex(text: string, pattern: string, ignoreCase: boolean): string;
  /** Ordered list aggregate with a filter. */
  listAgg(value: string, orderBy: string): string;
  /** A list with one more element at the end. */
  append(list: string, item: string): string;
  /** A one-element list. */
  single(item: string): string;
  /** A constant list of text. */
  textList(items: readonly string[]): string;
  /** First 32 lowercase hex digits of sha256 of a text. */
  hash32(text: string): string;
  /** Text type name for casts. */
  text: string;
}

/** Quotes a text literal (standard SQL: quotes doubled, backslashes literal in both engines). */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

const DUCKDB: SqlDialect = {
  micros: (c) => `epoch_us(${c})`,
  timestamp: (m) => `(to_timestamp(0) + to_microseconds(${m}))`,
  div: (a, b) => `(${a} // ${b})`,
  regex: (t, p, i) => `regexp_matches(${t}, ${literal(p)}${i ? ", 'i'" : ''})`,
  listAgg: (v, o) => `list(${v} ORDER BY ${o})`,
  append: (l, x) => `list_append(${l}, ${x})`,
  single: (x) => `[${x}]`,
  textList: (items) => (items.length === 0 ? 'CAST([] AS VARCHAR[])' : `[${items.map(literal).join(', ')}]`),
  hash32: (t) => `substr(sha256(${t}), 1, 32)`,
  text: 'VARCHAR',
};

const ATHENA: SqlDialect = {
  // Athena reads Parquet TIMESTAMP(MICROS) as timestamp(3) unless asked otherwise; to_unixtime keeps what it has.
  micros: (c) => `CAST(round(to_unixtime(${c}) * 1000000) AS bigint)`,
  timestamp: (m) => `CAST(from_unixtime_nanos(${m} * 1000) AT TIME ZONE 'UTC' AS timestamp(6))`,
  div: (a, b) => `(${a} / ${b})`,
  regex: (t, p, i) => `regexp_like(${t}, ${literal(i ? `(?i)${p}` : p)})`,
  listAgg: (v, o) => `array_agg(${v} ORDER BY ${o})`,
  append: (l, x) => `concat(${l}, ARRAY[${x}])`,
  single: (x) => `ARRAY[${x}]`,
  textList: (items) => (items.length === 0 ? 'CAST(ARRAY[] AS array(varchar))' : `ARRAY[${items.map(literal).join(', ')}]`),
  hash32: (t) => `substr(lower(to_hex(sha256(to_utf8(${t})))), 1, 32)`,
  text: 'varchar',
};

/** The expressions of a dialect. */
export function sqlDialect(dialect: Dialect): SqlDialect {
  return dialect === 'duckdb' ? DUCKDB : ATHENA;
}
