CREATE EXTERNAL TABLE IF NOT EXISTS `auditlake`.`audit_events` (
  `event_id`         string COMMENT 'Deterministic id from the source and the position of the raw record, so re-ingesting the same input yields the same id.',
  `schema_version`   int COMMENT 'Version of this schema the event was written with (1).',
  `event_time`       timestamp COMMENT 'When the source says the activity was logged, UTC, microsecond precision. Athena reads it at millisecond precision; the Parquet files hold microseconds.',
  `ingest_time`      timestamp COMMENT 'When auditlake ingested the record, UTC. Athena reads it at millisecond precision; the Parquet files hold microseconds.',
  `source_format`    string COMMENT 'Raw format the event was read from.',
  `source_ref`       string COMMENT 'Where the raw record is: file and line, shard and sequence number, or proxy session and message index.',
  `cluster_id`       string COMMENT 'Cluster identifier (DAS clusterId, CloudWatch log group cluster), when known.',
  `instance_id`      string COMMENT 'Database instance identifier (DAS instanceId, CloudWatch log stream), when known.',
  `server_host`      string COMMENT 'Address or name of the database server.',
  `session_id`       string COMMENT 'Session identifier; PostgreSQL''s %c form (hex start time . hex pid) for pgAudit and DAS, so sessions join across sources.',
  `process_id`       int COMMENT 'Backend process id.',
  `database_name`    string COMMENT 'Database the session is connected to (db.namespace).',
  `db_user`          string COMMENT 'Database role that ran the statement or tried to log in.',
  `client_addr`      string COMMENT 'Client address (client.address); [local] for Unix sockets.',
  `client_port`      int COMMENT 'Client port (client.port).',
  `application_name` string COMMENT 'application_name the client set.',
  `event_class`      string COMMENT 'Kind of activity: CONNECT, DISCONNECT, AUTH_FAILURE, READ, WRITE, DDL, ROLE, FUNCTION, MISC or ERROR.',
  `command`          string COMMENT 'Command tag (db.operation.name): SELECT, GRANT, CREATE TABLE, ...',
  `object_type`      string COMMENT 'Type of the object touched (TABLE, VIEW, FUNCTION, ...).',
  `object_name`      string COMMENT 'Schema-qualified name of the object touched (db.collection.name).',
  `statement_text`   string COMMENT 'Statement text as the source gives it (db.query.text); null when the source did not log it.',
  `parameters`       array<string> COMMENT 'Bound parameter values as text; an empty list when there were none, null when not logged.',
  `statement_id`     bigint COMMENT 'Per-session statement counter (pgAudit/DAS statement id, proxy message index).',
  `substatement_id`  bigint COMMENT 'Counter of nested statements within the statement.',
  `transaction_id`   bigint COMMENT 'Transaction id, when the source gives one.',
  `success`          boolean COMMENT 'False for errors, failed logins and failed statements.',
  `row_count`        bigint COMMENT 'Rows returned or affected, when the source reports it.',
  `error_code`       string COMMENT 'SQLSTATE of the failure (db.response.status_code).',
  `error_message`    string COMMENT 'Error message of the failure.',
  `duration_ms`      double COMMENT 'Duration in milliseconds: statement time, or session time for DISCONNECT.',
  `audit_type`       string COMMENT 'pgAudit audit type: SESSION or OBJECT.',
  `raw_extras`       string COMMENT 'Source fields that have no column, as a JSON object text.',
  `policy_ids`       array<string> COMMENT 'Ids of the audit policies the event satisfies (ingest --policies); an empty list when none.'
)
PARTITIONED BY (
  `source` string,
  `event_date` string
)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/auditlake/events/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.source.type' = 'enum',
  'projection.source.values' = 'pgaudit,das,proxy',
  'projection.event_date.type' = 'date',
  'projection.event_date.format' = 'yyyy-MM-dd',
  'projection.event_date.range' = '2020-01-01,NOW',
  'projection.event_date.interval' = '1',
  'projection.event_date.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://YOUR-BUCKET/auditlake/events/source=${source}/event_date=${event_date}/',
  'parquet.compression' = 'ZSTD'
);
