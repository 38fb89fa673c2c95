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

/**
 * Loads DuckDB's httpfs extension and points it at S3 the way the AWS SDK would be (region, endpoint and
 * credentials from the standard environment variables). The extension is not built into DuckDB; where it
 * is not installed and cannot be downloaded, this fails with what to do instead.
 */
async function useHttpfs(connection: DuckDBConnection, url: string): Promise<void> {
  try {
    await connection.run('LOAD httpfs');
  } catch (e) {
    // DuckDB's message spans lines (what failed, then what to do): one line, so the CLI prints one.
    const why = (e as Error).message.replace(/\s*\n+\s*/g, ' ');
    throw new Error(
      `querying ${url} in place needs DuckDB's httpfs extension, which could not be loaded (${why}): query the lake with Athena (auditlake schema athena), or copy it locally (aws s3 sync ${url} ./lake) and run auditlake query --lake ./lake`,
      { cause: e },
    );
  }
  const env = process.env;
  const settings: string[] = ['TYPE s3'];
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region) settings.push(`REGION ${sqlString(region)}`);
  if (env.AWS_ACCESS_KEY_ID) settings.push(`KEY_ID ${sqlString(env.AWS_ACCESS_KEY_ID)}`);
  if (env.AWS_SECRET_ACCESS_KEY) settings.push(`SECRET ${sqlString(env.AWS_SECRET_ACCESS_KEY)}`);
  if (env.AWS_SESSION_TOKEN) settings.push(`SESSION_TOKEN ${sqlString(env.AWS_SESSION_TOKEN)}`);
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  if (endpoint) {
    const u = new URL(endpoint);
    settings.push(`ENDPOINT ${sqlString(u.host)}`, `USE_SSL ${u.protocol === 'https:'}`, "URL_STYLE 'path'");
  }
  await connection.run(`CREATE OR REPLACE SECRET auditlake_s3 (${settings.join(', ')})`);
}

/**
 * Creates (or replaces) a view over Parquet files under `prefix` of a lake (local, or S3 through httpfs).
 * The view names the files the storage lists, never a glob of the lake path, and DuckDB (which treats
 * every path as a glob) gets them escaped: a path holding glob characters (`/data/lake[ab]`) would
 * otherwise read other folders. Their paths are added to `readable`.
 */
export async function createLakeView(
  connection: DuckDBConnection,
  storage: Storage,
  view: string,
  prefix: string,
  fields: readonly FieldSpec[],
  partitions: readonly FieldSpec[],
  readable: string[] = [],
): Promise<number> {
  const keys = (await storage.list(prefix)).filter((k) => k.endsWith('.parquet'));
  let body: string;
  if (keys.length === 0) {
    body = emptyRelation(fields, partitions);
  } else {
    let root = storage.localPath(prefix);
    if (root === null) {
      await useHttpfs(connection, storage.url);
      root = `${storage.url.replace(/\/+$/, '')}/${prefix}`;
    }
    const base = root.replace(/\/$/, '');
    const files = keys.map((k) => `${base}/${k.slice(prefix.length)}`);
    // DuckDB checks the path as written (escaped) and the file it opens.
    readable.push(...files, ...files.map(escapeGlob).filter((f, i) => f !== files[i]));
    const types = partitions.map((p) => `${sqlString(p.name)}: 'VARCHAR'`).join(', ');
    const scan = `read_parquet([${files.map((f) => sqlString(escapeGlob(f))).join(', ')}], hive_partitioning = true, hive_types = {${types}}, union_by_name = true)`;
    body = projected(fields, partitions, scan);
  }
  await connection.run(`CREATE OR REPLACE VIEW "${view}" AS ${body}`);
  return keys.length;
}

/** A path DuckDB matches only literally: `[`, `*` and `?` each become a one-character class. */
export function escapeGlob(path: string): string {
  return path.replace(/[[*?]/g, (c) => `[${c}]`);
}

/** The `audit_events` view over a lake. */
export function createEventsView(connection: DuckDBConnection, storage: Storage, readable: string[] = []): Promise<number> {
  return createLakeView(connection, storage, 'audit_events', 'events/', EVENT_FIELDS, PARTITION_KEYS, readable);
}

/**
 * After the views exist: DuckDB may read only the lake files they name, nothing else on disk or the
 * network, write nothing, and the configuration is locked so SQL cannot undo it.
 */
export async function restrictToLake(connection: DuckDBConnection, readable: readonly string[]): Promise<void> {
  await connection.run(`SET allowed_paths = [${readable.map(sqlString).join(', ')}]`);
  await connection.run('SET enable_external_access = false');
  await connection.run('SET lock_configuration = true');
}
