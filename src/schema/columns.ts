import { EVENT_FIELDS, type FieldType } from './fields.js';

/**
 * DuckDB SQL type of each logical type. DuckDB writes `TIMESTAMPTZ` to Parquet as
 * `TIMESTAMP(isAdjustedToUTC=true, unit=MICROS)`, which Athena reads as `timestamp`.
 */
export const DUCKDB_TYPES: Readonly<Record<FieldType, string>> = {
  string: 'VARCHAR',
  int: 'INTEGER',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMPTZ',
  string_list: 'VARCHAR[]',
};

/**
 * Parquet physical and converted type each logical type is written as, as DuckDB's `parquet_schema()`
 * reports them; a test checks written files against this, and the Athena type against both.
 */
export const PARQUET_TYPES: Readonly<Record<FieldType, { physical: string; converted: string | null }>> = {
  string: { physical: 'BYTE_ARRAY', converted: 'UTF8' },
  int: { physical: 'INT32', converted: 'INT_32' },
  bigint: { physical: 'INT64', converted: 'INT_64' },
  double: { physical: 'DOUBLE', converted: null },
  boolean: { physical: 'BOOLEAN', converted: null },
  timestamp: { physical: 'INT64', converted: 'TIMESTAMP_MICROS' },
  // A LIST group whose `element` leaf is a UTF8 byte array.
  string_list: { physical: 'BYTE_ARRAY', converted: 'UTF8' },
};

/** `name TYPE` pairs of the stored columns, in file order, for DuckDB DDL and casts. */
export function duckdbColumns(): { name: string; type: string }[] {
  return EVENT_FIELDS.map((f) => ({ name: f.name, type: DUCKDB_TYPES[f.type] }));
}
