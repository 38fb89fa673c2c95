import { ATHENA_TYPES, athenaComment, DEFAULT_LOCATION, projectionProperties } from './athena.js';
import { EVENT_FIELDS, type FieldSpec, PARTITION_KEYS } from './fields.js';

/**
 * The Glue table definition of a lake table, in the shape `aws glue create-table --table-input` takes
 * (a `TableInput`): the same columns, types and partition projection as the Athena DDL, derived from
 * the same field declarations. Parquet is read by Hive's Parquet SerDe, which Athena uses for
 * `STORED AS PARQUET`.
 */

/** A lake table: its name, folder under the root, columns and partition keys. */
export interface LakeTable {
  name: string;
  folder: string;
  description: string;
  fields: readonly FieldSpec[];
  partitions: readonly FieldSpec[];
}

/** The events table. */
export const EVENTS_TABLE: LakeTable = {
  name: 'audit_events',
  folder: 'events',
  description: 'auditlake audit events (schema v1), one row per audited action',
  fields: EVENT_FIELDS,
  partitions: PARTITION_KEYS,
};

/** Options of {@link glueTableInput}. */
export interface GlueTableOptions {
  /** Lake root, e.g. `s3://bucket/audit`. */
  location?: string;
  /** First day partition projection considers. */
  projectionStart?: string;
}

/** Glue limits a column comment to 255 characters. */
function comment(text: string): string {
  return text.length <= 255 ? text : `${text.slice(0, 252)}...`;
}

/** A Glue `TableInput` for a lake table. */
export function glueTableInput(table: LakeTable, options: GlueTableOptions = {}): Record<string, unknown> {
  const root = (options.location ?? DEFAULT_LOCATION).replace(/\/+$/, '');
  const column = (f: FieldSpec) => ({ Name: f.name, Type: ATHENA_TYPES[f.type], Comment: comment(athenaComment(f)) });
  return {
    Name: table.name,
    Description: table.description,
    TableType: 'EXTERNAL_TABLE',
    Parameters: {
      EXTERNAL: 'TRUE',
      classification: 'parquet',
      ...Object.fromEntries(projectionProperties(root, table.folder, table.partitions, options.projectionStart)),
    },
    PartitionKeys: table.partitions.map(column),
    StorageDescriptor: {
      Columns: table.fields.map(column),
      Location: `${root}/${table.folder}/`,
      InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
      SerdeInfo: {
        SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
        Parameters: { 'serialization.format': '1' },
      },
      Compressed: true,
      StoredAsSubDirectories: false,
    },
  };
}

/** The table definition as JSON text: a bare `TableInput`, or with a database the whole `--cli-input-json` document. */
export function glueTableJson(table: LakeTable, options: GlueTableOptions & { database?: string } = {}): string {
  const input = glueTableInput(table, options);
  const doc = options.database ? { DatabaseName: options.database, TableInput: input } : input;
  return `${JSON.stringify(doc, null, 2)}\n`;
}
