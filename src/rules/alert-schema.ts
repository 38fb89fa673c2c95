import { z } from 'zod';
import { ATHENA_TYPES, athenaComment, DEFAULT_PROJECTION_START, ddlString } from '../schema/athena.js';
import { DUCKDB_TYPES } from '../schema/columns.js';
import type { FieldSpec, RecordOf } from '../schema/fields.js';
import { strictObjectOf } from '../schema/validate.js';
import { SEVERITIES } from './rule-schema.js';

/**
 * The alert, declared once like the event (`src/schema/fields.ts`): its zod validator, DuckDB column
 * types and Athena DDL are derived from {@link ALERT_FIELDS}, which has the same {@link FieldSpec} shape
 * as `EVENT_FIELDS`, so one lake writer writes either. Alerts live at
 * `<root>/alerts/event_date=<YYYY-MM-DD>/part-*.parquet`, partitioned by the UTC date of `alert_time`.
 */

/** How an alert was found (the `origin` column). */
export const ALERT_ORIGINS = ['stream', 'catch-up', 'hunt'] as const;

/** The columns stored in each alert Parquet file, in file order. */
export const ALERT_FIELDS = [
  {
    name: 'alert_id',
    type: 'string',
    nullable: false,
    description: 'Deterministic id: hash of rule id, group key, window start and triggering event id, so re-evaluation yields the same id.',
  },
  { name: 'rule_id', type: 'string', nullable: false, description: 'Id of the rule that raised the alert.' },
  {
    name: 'severity',
    type: 'string',
    nullable: false,
    enum: SEVERITIES,
    description: 'Severity of the rule: info, low, medium, high or critical.',
  },
  { name: 'title', type: 'string', nullable: false, description: 'Title of the rule.' },
  { name: 'description', type: 'string', nullable: false, description: 'Description of the rule.' },
  { name: 'tags', type: 'string_list', nullable: false, description: 'Tags of the rule.' },
  {
    name: 'alert_time',
    type: 'timestamp',
    nullable: false,
    description: 'Event time of the event that raised the alert, UTC, microseconds.',
  },
  { name: 'window_start', type: 'timestamp', nullable: false, description: 'Start (inclusive) of the window the alert covers.' },
  {
    name: 'window_end',
    type: 'timestamp',
    nullable: false,
    description: 'End of the window the alert covers (exclusive for threshold and suppression windows).',
  },
  {
    name: 'group_key',
    type: 'string',
    nullable: false,
    description: 'Values of the rule group_by fields as `field=value` joined by commas; empty when ungrouped.',
  },
  { name: 'event_count', type: 'bigint', nullable: false, description: 'Number of events behind the alert (the length of event_ids).' },
  { name: 'event_ids', type: 'string_list', nullable: false, description: 'event_id of each event behind the alert, in event time order.' },
  { name: 'details', type: 'string', nullable: false, description: 'Rule kind and settings, as a JSON object text.' },
  {
    name: 'origin',
    type: 'string',
    nullable: false,
    enum: ALERT_ORIGINS,
    description:
      'How the alert was found: stream (raised on ingest as its events passed), catch-up (found after the ingest by re-evaluating over the lake what late events touched) or hunt (auditlake hunt).',
  },
  {
    name: 'superseded',
    type: 'boolean',
    nullable: false,
    description:
      'True for a streamed alert that re-evaluation over the lake found does not hold as raised (an event that arrived late displaced it); kept because it was delivered. The current alerts are those with superseded = false.',
  },
] as const satisfies readonly FieldSpec[];

/** Partition key of the alerts folder. */
export const ALERT_PARTITION_KEYS = [
  { name: 'event_date', type: 'string', nullable: false, description: 'UTC date of alert_time, YYYY-MM-DD.' },
] as const satisfies readonly FieldSpec[];

/** An alert as it moves between stages; timestamps are integer microseconds since the epoch. */
export type Alert = RecordOf<typeof ALERT_FIELDS>;

/** Strict validator of an {@link Alert}, derived from {@link ALERT_FIELDS}. */
export const alertSchema = strictObjectOf(ALERT_FIELDS);

/** Checks an alert; returns a readable message or null when it is valid. */
export function checkAlert(alert: unknown): string | null {
  const result = alertSchema.safeParse(alert);
  return result.success ? null : z.prettifyError(result.error);
}

/** `name TYPE` pairs of the stored alert columns, for DuckDB DDL and casts. */
export function duckdbAlertColumns(): { name: string; type: string }[] {
  return ALERT_FIELDS.map((f) => ({ name: f.name, type: DUCKDB_TYPES[f.type] }));
}

/** Options of {@link athenaAlertsDdl}. */
export interface AthenaAlertsDdlOptions {
  /** Lake root, e.g. `s3://bucket/audit`; the table lives under `<location>/alerts/`. */
  location?: string;
  /** Glue database; the table name is unqualified when absent. */
  database?: string;
  /** First day partition projection considers. */
  projectionStart?: string;
}

/** `CREATE EXTERNAL TABLE audit_alerts` over `<root>/alerts/` with date projection on `event_date`. */
export function athenaAlertsDdl(options: AthenaAlertsDdlOptions = {}): string {
  const root = (options.location ?? 's3://YOUR-BUCKET/auditlake').replace(/\/+$/, '');
  const ident = (name: string) => `\`${name}\``;
  const table = options.database ? `${ident(options.database)}.${ident('audit_alerts')}` : ident('audit_alerts');
  const width = Math.max(...ALERT_FIELDS.map((f) => f.name.length)) + 2;
  const columns = ALERT_FIELDS.map(
    (f) => `  ${ident(f.name).padEnd(width + 1)}${ATHENA_TYPES[f.type]} COMMENT ${ddlString(athenaComment(f))}`,
  );
  const properties: [string, string][] = [
    ['projection.enabled', 'true'],
    ['projection.event_date.type', 'date'],
    ['projection.event_date.format', 'yyyy-MM-dd'],
    ['projection.event_date.range', `${options.projectionStart ?? DEFAULT_PROJECTION_START},NOW`],
    ['projection.event_date.interval', '1'],
    ['projection.event_date.interval.unit', 'DAYS'],
    ['storage.location.template', `${root}/alerts/event_date=\${event_date}/`],
    ['parquet.compression', 'ZSTD'],
  ];
  return [
    `CREATE EXTERNAL TABLE IF NOT EXISTS ${table} (`,
    columns.join(',\n'),
    ')',
    'PARTITIONED BY (',
    ALERT_PARTITION_KEYS.map((f) => `  ${ident(f.name)} ${ATHENA_TYPES[f.type]}`).join(',\n'),
    ')',
    'STORED AS PARQUET',
    `LOCATION ${ddlString(`${root}/alerts/`)}`,
    'TBLPROPERTIES (',
    properties.map(([k, v]) => `  ${ddlString(k)} = ${ddlString(v)}`).join(',\n'),
    ');',
    '',
  ].join('\n');
}
