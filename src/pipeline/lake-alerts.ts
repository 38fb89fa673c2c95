import { type DuckDBConnection, DuckDBTimestampTZValue } from '@duckdb/node-api';
import { sqlString } from '../lake/parquet-convert.js';
import { createEventsView } from '../lake/query.js';
import type { Storage } from '../lake/storage.js';
import type { Alert } from '../rules/alert-schema.js';

/** Rule queries over the lake: running compiled rule SQL with DuckDB, and finding the alerts already stored. */

function plain(value: unknown): unknown {
  if (value instanceof DuckDBTimestampTZValue) return Number(value.micros);
  if (typeof value === 'bigint') return Number(value);
  if (value && typeof value === 'object' && 'items' in value) return (value as { items: unknown[] }).items.map(plain);
  return value;
}

/** Runs a query returning alert columns (a compiled rule) and converts its rows to alerts. */
export async function queryAlerts(connection: DuckDBConnection, sql: string): Promise<Alert[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjects().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)])) as unknown as Alert);
}

/** A runner of rule SQL over the lake's `audit_events` (the view is created, or refreshed, first). */
export async function lakeRuleRunner(connection: DuckDBConnection, storage: Storage): Promise<(sql: string) => Promise<Alert[]>> {
  await createEventsView(connection, storage);
  return (sql) => queryAlerts(connection, sql);
}

/**
 * Which of `ids` the lake's alerts table already holds (not superseded), leaving out files whose key
 * ends with `ownFile` (the file this run is about to replace).
 */
export async function storedAlertIds(connection: DuckDBConnection, storage: Storage, ids: string[], ownFile: string): Promise<Set<string>> {
  const keys = (await storage.list('alerts/')).filter((k) => k.endsWith('.parquet') && !k.endsWith(ownFile));
  if (keys.length === 0 || ids.length === 0) return new Set();
  const root = storage.url.replace(/\/+$/, '');
  const files = keys.map((k) => sqlString(storage.localPath(k) ?? `${root}/${k}`)).join(', ');
  const query = (current: boolean) =>
    connection.runAndReadAll(
      `SELECT DISTINCT alert_id FROM read_parquet([${files}], union_by_name = true) WHERE alert_id IN (${ids.map(sqlString).join(', ')})${current ? ' AND coalesce(superseded, false) = false' : ''}`,
    );
  let reader: Awaited<ReturnType<typeof query>>;
  try {
    reader = await query(true);
  } catch {
    // Every file predates the superseded column: each of its alerts is current.
    reader = await query(false);
  }
  return new Set(reader.getRowObjects().map((r) => r.alert_id as string));
}
