CREATE EXTERNAL TABLE IF NOT EXISTS `auditlake`.`audit_alerts` (
  `alert_id`     string COMMENT 'Deterministic id: hash of rule id, group key, window start and triggering event id, so re-evaluation yields the same id.',
  `rule_id`      string COMMENT 'Id of the rule that raised the alert.',
  `severity`     string COMMENT 'Severity of the rule: info, low, medium, high or critical.',
  `title`        string COMMENT 'Title of the rule.',
  `description`  string COMMENT 'Description of the rule.',
  `tags`         array<string> COMMENT 'Tags of the rule.',
  `alert_time`   timestamp COMMENT 'Event time of the event that raised the alert, UTC, microseconds. Athena reads it at millisecond precision; the Parquet files hold microseconds.',
  `window_start` timestamp COMMENT 'Start (inclusive) of the window the alert covers. Athena reads it at millisecond precision; the Parquet files hold microseconds.',
  `window_end`   timestamp COMMENT 'End of the window the alert covers (exclusive for threshold and suppression windows). Athena reads it at millisecond precision; the Parquet files hold microseconds.',
  `group_key`    string COMMENT 'Values of the rule group_by fields as `field=value` joined by commas; empty when ungrouped.',
  `event_count`  bigint COMMENT 'Number of events behind the alert (the length of event_ids).',
  `event_ids`    array<string> COMMENT 'event_id of each event behind the alert, in event time order.',
  `details`      string COMMENT 'Rule kind and settings, as a JSON object text.',
  `origin`       string COMMENT 'How the alert was found: stream (raised on ingest as its events passed), catch-up (found after the ingest by re-evaluating over the lake what late events touched) or hunt (auditlake hunt).',
  `superseded`   boolean COMMENT 'True for a streamed alert that re-evaluation over the lake found does not hold as raised (an event that arrived late displaced it); kept because it was delivered. The current alerts are those with superseded = false.'
)
PARTITIONED BY (
  `event_date` string
)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/auditlake/alerts/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.event_date.type' = 'date',
  'projection.event_date.format' = 'yyyy-MM-dd',
  'projection.event_date.range' = '2020-01-01,NOW',
  'projection.event_date.interval' = '1',
  'projection.event_date.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://YOUR-BUCKET/auditlake/alerts/event_date=${event_date}/',
  'parquet.compression' = 'ZSTD'
);
