import {
  type DuckDBConnection,
  DuckDBDateValue,
  DuckDBListValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import { openDuckDb } from '../lake/duckdb.js';
import { createEventsView } from '../lake/query.js';
import type { Storage } from '../lake/storage.js';
import { tempFolder } from '../lake/temp-folder.js';
import { formatMicrosInZone } from '../schema/index.js';

/**
 * DuckDB over a lake for the commands that read it (reports, OCSF export): the `audit_events` view,
 * results streamed chunk by chunk as plain JSON-safe rows (numbers, ISO-8601 UTC text for
 * timestamps, arrays for lists), so memory stays bounded whatever the lake's size.
 */

/** A row as the readers hand it on. */
export type PlainRow = Record<string, unknown>;

/** DuckDB over a lake, and the folder it spills to; `close` lets go of both. */
export interface LakeSession {
  connection: DuckDBConnection;
  /** Where sorts and aggregations larger than the memory limit spill (never into the lake, which is only read). */
  tempDirectory: string;
  close(): Promise<void>;
}

/**
 * A DuckDB connection with `audit_events` over the lake, bounded in memory, with a spill folder of its
 * own that `close` removes. The commands check first that the path holds a lake (`openLakeForReading`).
 */
export async function openLakeSession(storage: Storage): Promise<LakeSession> {
  const spill = await tempFolder('auditlake-duckdb-');
  const tempDirectory = spill.path;
  let connection: DuckDBConnection | null = null;
  const close = async () => {
    connection?.closeSync();
    connection = null;
    await spill.remove();
  };
  try {
    connection = await openDuckDb({ memoryLimit: '512MB', threads: 2, tempDirectory });
    await createEventsView(connection, storage);
    return { connection, tempDirectory, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * A DuckDB value as plain JSON: timestamps as ISO text in UTC (or in `timeZone`, with its offset), BIGINTs
 * as numbers, lists as arrays.
 */
export function plainValue(value: DuckDBValue, timeZone = 'UTC'): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof DuckDBTimestampTZValue) return formatMicrosInZone(Number(value.micros), timeZone);
  // A plain TIMESTAMP (date_trunc of a TIMESTAMPTZ in a UTC session, as reports group by hour) is UTC wall time.
  if (value instanceof DuckDBTimestampValue) return formatMicrosInZone(Number(value.micros), timeZone);
  if (value instanceof DuckDBDateValue) return value.toString();
  if (value instanceof DuckDBListValue) return value.items.map((v) => plainValue(v, timeZone));
  return String(value);
}

/** A query's column names and its rows, in batches of one DuckDB chunk (up to 2048 rows). */
export interface RowStream {
  columns: string[];
  batches: AsyncIterable<PlainRow[]>;
}

/** Runs a query with `?` parameters; rows are read as the consumer pulls them, times in `timeZone`. */
export async function streamRows(connection: DuckDBConnection, sql: string, params: string[] = [], timeZone = 'UTC'): Promise<RowStream> {
  const result = await connection.stream(sql, params);
  const columns = result.columnNames();
  async function* batches(): AsyncGenerator<PlainRow[]> {
    for await (const chunk of result.yieldRows()) {
      yield chunk.map((values) => Object.fromEntries(values.map((v, i) => [columns[i], plainValue(v, timeZone)])));
    }
  }
  return { columns, batches: batches() };
}
