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

/** Expected Parquet physical and logical type of each logical type, as `parquet_schema()` reports it. */
export const PARQUET_TYPES: Readonly<Record<FieldType, { physical: string; logical: string }>> = {
  string: { physical: 'BYTE_ARRAY', logical: 'StringType' },
  int: { physical: 'INT32', logical: '' },
  bigint: { physical: 'INT64', logical: '' },
  double: { physical: 'DOUBLE', logical: '' },
  boolean: { physical: 'BOOLEAN', logical: '' },
  timestamp: { physical: 'INT64', logical: 'TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MICROS=MicroSeconds()))' },
  string_list: { physical: 'BYTE_ARRAY', logical: 'StringType' },
};

/** `name TYPE` pairs of the stored columns, in file order, for DuckDB DDL and casts. */
export function duckdbColumns(): { name: string; type: string }[] {
  return EVENT_FIELDS.map((f) => ({ name: f.name, type: DUCKDB_TYPES[f.type] }));
}
