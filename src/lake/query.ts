import type { DuckDBConnection } from '@duckdb/node-api';
import { DUCKDB_TYPES, EVENT_FIELDS, type FieldSpec, PARTITION_KEYS } from '../schema/index.js';
import { sqlString } from './parquet-convert.js';
import type { Storage } from './storage.js';

/**
 * The lake seen through DuckDB: views with the same names and columns as the Athena tables
 * (`audit_events`, and `audit_alerts` when alert fields are given), so one SQL text runs in both.
 * Partition columns are read from the hive path as VARCHAR, as Athena declares them.
 */

/** A typed, empty relation with the given columns, for a lake that has no files yet. */
function emptyRelation(fields: readonly FieldSpec[], partitions: readonly FieldSpec[]): string {
  const cols = [...fields, ...partitions].map((f) => `CAST(NULL AS ${DUCKDB_TYPES[f.type]}) AS "${f.name}"`);
  return `SELECT ${cols.join(', ')} WHERE false`;
}

/** Selects the declared columns in declared order, whatever order the files have. */
function projected(fields: readonly FieldSpec[], partitions: readonly FieldSpec[], from: string): string {
  return `SELECT ${[...fields, ...partitions].map((f) => `"${f.name}"`).join(', ')} FROM ${from}`;
}

/** Creates (or replaces) a view over Parquet files under `prefix` of a local lake. */
export async function createLakeView(
  connection: DuckDBConnection,
  storage: Storage,
  view: string,
  prefix: string,
  fields: readonly FieldSpec[],
  partitions: readonly FieldSpec[],
): Promise<number> {
  const keys = (await storage.list(prefix)).filter((k) => k.endsWith('.parquet'));
  let body: string;
  if (keys.length === 0) {
    body = emptyRelation(fields, partitions);
  } else {
    const root = storage.localPath(prefix);
    if (root === null)
      throw new Error(
        `querying ${storage.url} needs DuckDB's httpfs extension, which is not built in; copy the lake locally (aws s3 sync) or query it with Athena`,
      );
    const depth = partitions.length;
    const glob = `${root.replace(/\/$/, '')}/${'*/'.repeat(depth)}*.parquet`;
    const types = partitions.map((p) => `${sqlString(p.name)}: 'VARCHAR'`).join(', ');
    const scan = `read_parquet(${sqlString(glob)}, hive_partitioning = true, hive_types = {${types}}, union_by_name = true)`;
    body = projected(fields, partitions, scan);
  }
  await connection.run(`CREATE OR REPLACE VIEW "${view}" AS ${body}`);
  return keys.length;
}

/** The `audit_events` view over a lake. */
export function createEventsView(connection: DuckDBConnection, storage: Storage): Promise<number> {
  return createLakeView(connection, storage, 'audit_events', 'events/', EVENT_FIELDS, PARTITION_KEYS);
}
