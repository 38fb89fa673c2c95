/**
 * The unified audit event, schema v1, declared once.
 *
 * Every other shape of the event is derived from {@link EVENT_FIELDS}: the zod validator
 * (`validate.ts`), the DuckDB/Parquet column types (`columns.ts`), the JSON Schema and the Athena
 * DDL (`json-schema.ts`, `athena.ts`). Add a field here and the derivations follow; the drift test
 * fails until the checked-in files under `schemas/` are regenerated (`npm run schemas`).
 */

/** Logical type of a field; each derivation maps it to its own type system. */
export type FieldType = 'string' | 'int' | 'bigint' | 'double' | 'boolean' | 'timestamp' | 'string_list';

/** One column of the event. */
export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  /** False when every event must carry a value. */
  readonly nullable: boolean;
  readonly description: string;
  /** Closed set of values, when there is one. */
  readonly enum?: readonly string[];
}

/** Where an event came from. Also the first partition key of the lake. */
export const SOURCES = ['pgaudit', 'das', 'proxy'] as const;
export type Source = (typeof SOURCES)[number];

/** True for one of {@link SOURCES}. */
export function isSource(value: string): value is Source {
  return (SOURCES as readonly string[]).includes(value);
}

/** A source name as a user writes it (e.g. `compact --source`); throws a message listing the sources. */
export function parseSource(text: string): Source {
  if (isSource(text)) return text;
  throw new Error(`unknown source ${JSON.stringify(text)} (expected one of ${SOURCES.join(', ')})`);
}

/** What kind of activity an event records; one set for every source. */
export const EVENT_CLASSES = [
  'CONNECT',
  'DISCONNECT',
  'AUTH_FAILURE',
  'READ',
  'WRITE',
  'DDL',
  'ROLE',
  'FUNCTION',
  'MISC',
  'ERROR',
] as const;
export type EventClass = (typeof EVENT_CLASSES)[number];

/** The raw shapes a collector reads; `source_format` names one of them. */
export const SOURCE_FORMATS = ['csvlog', 'jsonlog', 'stderr', 'cloudwatch', 'das', 'proxy'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

/** True for one of {@link SOURCE_FORMATS} (`auto` is not one: it asks for detection). */
export function isSourceFormat(value: string): value is SourceFormat {
  return (SOURCE_FORMATS as readonly string[]).includes(value);
}

export const SCHEMA_VERSION = 1;

/**
 * The columns stored inside each Parquet file, in file order. `source` and `event_date` are not
 * among them: they are the partition keys ({@link PARTITION_KEYS}), carried by the path.
 */
export const EVENT_FIELDS = [
  {
    name: 'event_id',
    type: 'string',
    nullable: false,
    description: 'Deterministic id from the source and the position of the raw record, so re-ingesting the same input yields the same id.',
  },
  { name: 'schema_version', type: 'int', nullable: false, description: 'Version of this schema the event was written with (1).' },
  {
    name: 'event_time',
    type: 'timestamp',
    nullable: false,
    description: 'When the source says the activity was logged, UTC, microsecond precision.',
  },
  { name: 'ingest_time', type: 'timestamp', nullable: false, description: 'When auditlake ingested the record, UTC.' },
  { name: 'source_format', type: 'string', nullable: false, enum: SOURCE_FORMATS, description: 'Raw format the event was read from.' },
  {
    name: 'source_ref',
    type: 'string',
    nullable: false,
    description: 'Where the raw record is: file and line, shard and sequence number, or proxy session and message index.',
  },
  {
    name: 'cluster_id',
    type: 'string',
    nullable: true,
    description: 'Cluster identifier (DAS clusterId, CloudWatch log group cluster), when known.',
  },
  {
    name: 'instance_id',
    type: 'string',
    nullable: true,
    description: 'Database instance identifier (DAS instanceId, CloudWatch log stream), when known.',
  },
  { name: 'server_host', type: 'string', nullable: true, description: 'Address or name of the database server.' },
  {
    name: 'session_id',
    type: 'string',
    nullable: true,
    description:
      "Session identifier; PostgreSQL's %c form (hex start time . hex pid) for pgAudit and DAS, so sessions join across sources.",
  },
  { name: 'process_id', type: 'int', nullable: true, description: 'Backend process id.' },
  { name: 'database_name', type: 'string', nullable: true, description: 'Database the session is connected to (db.namespace).' },
  { name: 'db_user', type: 'string', nullable: true, description: 'Database role that ran the statement or tried to log in.' },
  { name: 'client_addr', type: 'string', nullable: true, description: 'Client address (client.address); [local] for Unix sockets.' },
  { name: 'client_port', type: 'int', nullable: true, description: 'Client port (client.port).' },
  { name: 'application_name', type: 'string', nullable: true, description: 'application_name the client set.' },
  {
    name: 'event_class',
    type: 'string',
    nullable: false,
    enum: EVENT_CLASSES,
    description: 'Kind of activity: CONNECT, DISCONNECT, AUTH_FAILURE, READ, WRITE, DDL, ROLE, FUNCTION, MISC or ERROR.',
  },
  { name: 'command', type: 'string', nullable: true, description: 'Command tag (db.operation.name): SELECT, GRANT, CREATE TABLE, ...' },
  { name: 'object_type', type: 'string', nullable: true, description: 'Type of the object touched (TABLE, VIEW, FUNCTION, ...).' },
  { name: 'object_name', type: 'string', nullable: true, description: 'Schema-qualified name of the object touched (db.collection.name).' },
  {
    name: 'statement_text',
    type: 'string',
    nullable: true,
    description: 'Statement text as the source gives it (db.query.text); null when the source did not log it.',
  },
  {
    name: 'parameters',
    type: 'string_list',
    nullable: true,
    description: 'Bound parameter values as text; an empty list when there were none, null when not logged.',
  },
  {
    name: 'statement_id',
    type: 'bigint',
    nullable: true,
    description: 'Per-session statement counter (pgAudit/DAS statement id, proxy message index).',
  },
  { name: 'substatement_id', type: 'bigint', nullable: true, description: 'Counter of nested statements within the statement.' },
  { name: 'transaction_id', type: 'bigint', nullable: true, description: 'Transaction id, when the source gives one.' },
  { name: 'success', type: 'boolean', nullable: false, description: 'False for errors, failed logins and failed statements.' },
  { name: 'row_count', type: 'bigint', nullable: true, description: 'Rows returned or affected, when the source reports it.' },
  { name: 'error_code', type: 'string', nullable: true, description: 'SQLSTATE of the failure (db.response.status_code).' },
  { name: 'error_message', type: 'string', nullable: true, description: 'Error message of the failure.' },
  {
    name: 'duration_ms',
    type: 'double',
    nullable: true,
    description: 'Duration in milliseconds: statement time, or session time for DISCONNECT.',
  },
  { name: 'audit_type', type: 'string', nullable: true, description: 'pgAudit audit type: SESSION or OBJECT.' },
  { name: 'raw_extras', type: 'string', nullable: true, description: 'Source fields that have no column, as a JSON object text.' },
  {
    name: 'policy_ids',
    type: 'string_list',
    nullable: false,
    description: 'Ids of the audit policies the event satisfies (ingest --policies); an empty list when none.',
  },
] as const satisfies readonly FieldSpec[];

/** Partition keys, in path order: `events/source=<source>/event_date=<YYYY-MM-DD>/`. */
export const PARTITION_KEYS = [
  { name: 'source', type: 'string', nullable: false, enum: SOURCES, description: 'Source family: pgaudit, das or proxy.' },
  { name: 'event_date', type: 'string', nullable: false, description: 'UTC date of event_time, YYYY-MM-DD.' },
] as const satisfies readonly FieldSpec[];

/** The TypeScript value of each logical type. Timestamps are integer microseconds since the epoch (UTC). */
export interface TsTypes {
  string: string;
  int: number;
  bigint: number;
  double: number;
  boolean: boolean;
  timestamp: number;
  string_list: string[];
}

/** The TypeScript value of one field, null included when the field is nullable. */
export type FieldValue<F extends FieldSpec> = F['nullable'] extends true ? TsTypes[F['type']] | null : TsTypes[F['type']];

/** The record type of a declared field list (events, alerts). */
export type RecordOf<Fields extends readonly FieldSpec[]> = { -readonly [F in Fields[number] as F['name']]: FieldValue<F> };

/** An event as it moves between stages: every stored column, plus its `source` partition key. */
export type AuditEvent = RecordOf<typeof EVENT_FIELDS> & { source: Source };

/**
 * The `policy_ids` of an event no policy selected. Frozen and shared, so collectors allocate nothing;
 * the policies stage assigns a new list rather than pushing onto it.
 */
export const NO_POLICY_IDS: string[] = Object.freeze([]) as unknown as string[];
