import type { DuckDBConnection } from '@duckdb/node-api';
import type { ReportDefinition, ReportSettings } from './definitions.js';
import { type RowStream, streamRows } from './lake-session.js';

/** The days a report covers, inclusive (`YYYY-MM-DD`); open ends are the widest days there are. */
export interface Period {
  since?: string;
  until?: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** True for a real calendar day written YYYY-MM-DD. */
export function isDay(text: string): boolean {
  if (!DAY.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

/**
 * A `--since`/`--until` value as a day: `YYYY-MM-DD`, or `today` / `yesterday` (UTC), which scheduled
 * runs use. Null when the text is neither.
 */
export function resolveDay(text: string, now: Date = new Date()): string | null {
  if (text === 'today' || text === 'yesterday') {
    const day = new Date(now.getTime() - (text === 'yesterday' ? 86_400_000 : 0));
    return day.toISOString().slice(0, 10);
  }
  return isDay(text) ? text : null;
}

/** The two `?` parameters of every report: first and last day. */
export function periodParams(period: Period): [string, string] {
  return [period.since ?? '0001-01-01', period.until ?? '9999-12-31'];
}

/**
 * Runs one report over the lake's `audit_events` view; rows stream as the consumer reads them, times
 * printed in `timeZone` (the period and the report's hours and days stay UTC, as in Athena).
 */
export function runReport(
  connection: DuckDBConnection,
  report: ReportDefinition,
  period: Period,
  settings: ReportSettings,
  timeZone = 'UTC',
): Promise<RowStream> {
  return streamRows(connection, report.sql('duckdb', settings), periodParams(period), timeZone);
}

/** The first and last day that hold events within the period (null when none do). */
export async function daysWithEvents(connection: DuckDBConnection, period: Period): Promise<{ first: string; last: string } | null> {
  const reader = await connection.runAndReadAll(
    'SELECT min(event_date) AS first, max(event_date) AS last FROM audit_events WHERE event_date BETWEEN ? AND ?',
    periodParams(period),
  );
  const [row] = reader.getRowObjectsJson() as { first: string | null; last: string | null }[];
  return row?.first && row.last ? { first: row.first, last: row.last } : null;
}
