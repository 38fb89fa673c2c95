import { type DuckDBConnection, DuckDBInstance, DuckDBTimestampTZValue } from '@duckdb/node-api';

/** Resource limits of the embedded DuckDB. */
export interface DuckDbOptions {
  /** DuckDB's buffer memory cap; it spills to `tempDirectory` beyond it. */
  memoryLimit: string;
  threads: number;
  tempDirectory?: string;
}

export const DEFAULT_DUCKDB: DuckDbOptions = { memoryLimit: '256MB', threads: 2 };

/** An in-memory DuckDB database with bounded memory and no reliance on row order; its connections are in UTC. */
export async function openDuckDbInstance(options: DuckDbOptions = DEFAULT_DUCKDB): Promise<DuckDBInstance> {
  const config: Record<string, string> = {
    memory_limit: options.memoryLimit,
    threads: String(options.threads),
    preserve_insertion_order: 'false',
  };
  if (options.tempDirectory) config.temp_directory = options.tempDirectory;
  const instance = await DuckDBInstance.create(':memory:', config);
  // Timestamps are shown and converted in UTC whatever the machine's zone: in SQL, and in the text the
  // Node client makes of a TIMESTAMPTZ (which otherwise uses the process's zone, e.g. 03:00:00-05).
  const setup = await instance.connect();
  // GLOBAL: every connection of the database (the appender's as well) is in UTC.
  await setup.run("SET GLOBAL TimeZone = 'UTC'");
  setup.closeSync();
  DuckDBTimestampTZValue.timezoneOffsetInMinutes = 0;
  return instance;
}

/** A connection to a new database of {@link openDuckDbInstance}. */
export async function openDuckDb(options: DuckDbOptions = DEFAULT_DUCKDB): Promise<DuckDBConnection> {
  return (await openDuckDbInstance(options)).connect();
}

/**
 * Hands what DuckDB's allocator keeps of freed memory back to the system, now.
 *
 * DuckDB keeps the memory a query freed for its next queries; after a Parquet conversion that is the
 * read buffers and row groups, about 100 MB that stayed resident for the rest of an ingest. DuckDB has
 * no statement that only flushes, but changing the thread count flushes every arena and trims the C heap
 * (`TaskScheduler::RelaunchThreadsInternal` calls `Allocator::FlushAll`), so one more thread is started
 * and stopped. Measured once per roll it costs a few milliseconds; the setting DuckDB offers instead
 * (`allocator_bulk_deallocation_flush_threshold`) flushed on every 16 MB read buffer and cost 2-3 s of
 * a 10 s ingest.
 */
export async function returnFreedMemory(connection: DuckDBConnection, threads: number): Promise<void> {
  await connection.run(`SET threads = ${threads + 1}`);
  await connection.run(`SET threads = ${threads}`);
}
