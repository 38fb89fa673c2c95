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
