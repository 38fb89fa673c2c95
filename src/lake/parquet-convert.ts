import type { DuckDBConnection } from '@duckdb/node-api';
import { DUCKDB_TYPES, EVENT_FIELDS, type FieldSpec } from '../schema/index.js';
import { MAX_ROW_BYTES } from './staging-row.js';

/** Parquet settings shared by every file the lake writes. */
export interface ParquetOptions {
  /** Codec: zstd (default) or snappy; both are read by Athena engine v3 and DuckDB. */
  compression: 'zstd' | 'snappy';
  /** Rows per row group. */
  rowGroupSize: number;
  /**
   * Bytes per row group, whichever limit comes first. DuckDB buffers a row group per thread while it
   * writes; with wide audit rows 122,880 rows ran it out of its 256 MB limit on a 270 MB staged file,
   * while a 16 MB cap kept it at the same speed in about 340 MB of RSS. 8 MB took another 10-15 MB off
   * an ingest's peak; compaction rewrites small files into larger row groups anyway.
   */
  rowGroupBytes?: string;
}

export const DEFAULT_PARQUET: ParquetOptions = { compression: 'zstd', rowGroupSize: 122_880, rowGroupBytes: '8MB' };

/** Escapes a path or text for a single-quoted SQL literal. */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** How a staged column is read (`read_csv` type, or an appended table's column type) and turned into its stored type. */
export function stagedColumn(field: FieldSpec): { staged: string; select: string } {
  const name = `"${field.name}"`;
  switch (field.type) {
    case 'timestamp':
      // Integer microseconds; make_timestamp keeps all six digits, TIMESTAMPTZ marks it UTC in Parquet.
      return { staged: 'BIGINT', select: `make_timestamp(${name})::TIMESTAMPTZ AS ${name}` };
    case 'string_list':
      return { staged: 'VARCHAR', select: `from_json(${name}, '["VARCHAR"]') AS ${name}` };
    default:
      return { staged: DUCKDB_TYPES[field.type], select: name };
  }
}

/** The fields of a Parquet file as staged: the event's, or another declared set (alerts). */
export type FieldList = readonly FieldSpec[];

/**
 * DuckDB's CSV read buffer: it must hold the longest row (`MAX_ROW_BYTES`) with room to spare. Its
 * default, and the 16 MiB used before, took 16-32 MB of each conversion; this saved about 20 MB of an
 * ingest's peak for no measurable time.
 */
const CSV_READ_BUFFER_BYTES = MAX_ROW_BYTES + 1024 * 1024;

/**
 * A query reading a staged CSV file (see `staging-row.ts`) as rows of the stored types. The line ending
 * is given (`new_line`): left to guess, DuckDB took a carriage return inside the first row's quoted text
 * for the line ending and failed the whole file.
 */
export function stagedSelect(stagedPath: string, fields: FieldList = EVENT_FIELDS): string {
  const columns = fields.map((f) => ({ name: f.name, ...stagedColumn(f) }));
  const columnTypes = columns.map((c) => `${sqlString(c.name)}: ${sqlString(c.staged)}`).join(', ');
  return `SELECT ${columns.map((c) => c.select).join(', ')}
    FROM read_csv(${sqlString(stagedPath)}, header = false, delim = ',', quote = '"', escape = '"', new_line = '\\n',
      allow_quoted_nulls = false, strict_mode = true, auto_detect = false, max_line_size = ${MAX_ROW_BYTES}, buffer_size = ${CSV_READ_BUFFER_BYTES},
      columns = {${columnTypes}})`;
}

/** The `COPY ... TO` options of every Parquet file the lake writes. */
export function parquetCopyOptions(options: ParquetOptions = DEFAULT_PARQUET): string {
  const bytes = options.rowGroupBytes ? `, ROW_GROUP_SIZE_BYTES ${sqlString(options.rowGroupBytes)}` : '';
  return `(FORMAT parquet, COMPRESSION ${options.compression}, ROW_GROUP_SIZE ${options.rowGroupSize}${bytes})`;
}

/**
 * Converts a table of staged columns (see `appended-part.ts`) into a Parquet file, and returns the number of
 * rows written.
 */
export async function convertStagedTable(
  connection: DuckDBConnection,
  table: string,
  parquetPath: string,
  options: ParquetOptions = DEFAULT_PARQUET,
  fields: FieldList = EVENT_FIELDS,
): Promise<number> {
  const select = fields.map((f) => stagedColumn(f).select).join(', ');
  const result = await connection.run(`COPY (SELECT ${select} FROM ${table}) TO ${sqlString(parquetPath)} ${parquetCopyOptions(options)}`);
  return Number(result.rowsChanged);
}

/**
 * Converts a staged CSV file into a Parquet file with DuckDB, and returns the number of rows
 * written, so the caller can check it against the rows it staged.
 */
export async function convertStagedCsv(
  connection: DuckDBConnection,
  stagedPath: string,
  parquetPath: string,
  options: ParquetOptions = DEFAULT_PARQUET,
  fields: FieldList = EVENT_FIELDS,
): Promise<number> {
  const result = await connection.run(
    `COPY (${stagedSelect(stagedPath, fields)}) TO ${sqlString(parquetPath)} ${parquetCopyOptions(options)}`,
  );
  return Number(result.rowsChanged);
}
