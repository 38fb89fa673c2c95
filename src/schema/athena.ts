import { EVENT_FIELDS, type FieldSpec, type FieldType, PARTITION_KEYS, SOURCES } from './fields.js';

/** Athena (Hive DDL) type of each logical type. */
export const ATHENA_TYPES: Readonly<Record<FieldType, string>> = {
  string: 'string',
  int: 'int',
  bigint: 'bigint',
  double: 'double',
  boolean: 'boolean',
  timestamp: 'timestamp',
  string_list: 'array<string>',
};

/** Options of the generated DDL. */
export interface AthenaDdlOptions {
  /** Lake root, e.g. `s3://bucket/audit`; the table lives under `<location>/events/`. */
  location?: string;
  /** Glue database; the table name is unqualified when absent. */
  database?: string;
  /** First day partition projection considers. */
  projectionStart?: string;
}

export const DEFAULT_LOCATION = 's3://YOUR-BUCKET/auditlake';

/** First `event_date` partition projection considers unless told otherwise (`--projection-start`). */
export const DEFAULT_PROJECTION_START = '2020-01-01';

/**
 * Athena reads a Hive-table `timestamp` at millisecond precision, though the Parquet files hold
 * microseconds (DAS and proxy events carry them; DuckDB and Spark see them). Said in the column comment.
 */
export const ATHENA_TIMESTAMP_NOTE = 'Athena reads it at millisecond precision; the Parquet files hold microseconds.';

/** A column's comment in Athena and Glue: its description, plus the precision note for timestamps. */
export function athenaComment(f: FieldSpec): string {
  return f.type === 'timestamp' ? `${f.description} ${ATHENA_TIMESTAMP_NOTE}` : f.description;
}

/** A string literal for Athena DDL: single quotes doubled. */
export function ddlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Quotes an identifier for Athena DDL (backticks; `time`, `user` and friends are reserved). */
function ident(name: string): string {
  return `\`${name}\``;
}

/**
 * Table properties for partition projection over `<root>/<folder>/<key>=<value>/...`: `source` is an
 * enum of the sources, `event_date` a daily date range from `start` to now; shared by the DDL and
 * the Glue table definition so the two cannot disagree.
 */
export function projectionProperties(
  root: string,
  folder: string,
  partitions: readonly FieldSpec[],
  start = DEFAULT_PROJECTION_START,
): [string, string][] {
  const properties: [string, string][] = [['projection.enabled', 'true']];
  for (const p of partitions) {
    if (p.name === 'source') properties.push(['projection.source.type', 'enum'], ['projection.source.values', SOURCES.join(',')]);
    else if (p.name === 'event_date')
      properties.push(
        ['projection.event_date.type', 'date'],
        ['projection.event_date.format', 'yyyy-MM-dd'],
        ['projection.event_date.range', `${start},NOW`],
        ['projection.event_date.interval', '1'],
        ['projection.event_date.interval.unit', 'DAYS'],
      );
    else throw new Error(`no projection for partition key ${p.name}`);
  }
  const template = partitions.map((p) => `${p.name}=\${${p.name}}/`).join('');
  properties.push(['storage.location.template', `${root}/${folder}/${template}`], ['parquet.compression', 'ZSTD']);
  return properties;
}

/**
 * `CREATE EXTERNAL TABLE audit_events` over the lake's `events/` folder, with partition projection on
 * `source` (enum) and `event_date` (date, yyyy-MM-dd) so no crawler or MSCK REPAIR is needed.
 */
export function athenaEventsDdl(options: AthenaDdlOptions = {}): string {
  const root = (options.location ?? DEFAULT_LOCATION).replace(/\/+$/, '');
  const table = options.database ? `${ident(options.database)}.${ident('audit_events')}` : ident('audit_events');
  const width = Math.max(...EVENT_FIELDS.map((f) => f.name.length)) + 2;
  const columns = EVENT_FIELDS.map(
    (f) => `  ${ident(f.name).padEnd(width + 1)}${ATHENA_TYPES[f.type]} COMMENT ${ddlString(athenaComment(f))}`,
  );
  const partitions = PARTITION_KEYS.map((f) => `  ${ident(f.name)} ${ATHENA_TYPES[f.type]}`);
  const start = options.projectionStart ?? DEFAULT_PROJECTION_START;
  const properties = projectionProperties(root, 'events', PARTITION_KEYS, start);
  return [
    `CREATE EXTERNAL TABLE IF NOT EXISTS ${table} (`,
    columns.join(',\n'),
    ')',
    'PARTITIONED BY (',
    partitions.join(',\n'),
    ')',
    'STORED AS PARQUET',
    `LOCATION ${ddlString(`${root}/events/`)}`,
    'TBLPROPERTIES (',
    properties.map(([k, v]) => `  ${ddlString(k)} = ${ddlString(v)}`).join(',\n'),
    ');',
    '',
  ].join('\n');
}
