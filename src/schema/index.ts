/** Schema v1 of the unified audit event and everything derived from it. */

export {
  ATHENA_TIMESTAMP_NOTE,
  ATHENA_TYPES,
  type AthenaDdlOptions,
  athenaEventsDdl,
  DEFAULT_PROJECTION_START,
  projectionProperties,
} from './athena.js';
export * from './batch.js';
export { DUCKDB_TYPES, duckdbColumns, PARQUET_TYPES } from './columns.js';
export * from './event-id.js';
export * from './event-json.js';
export * from './fields.js';
export { EVENTS_TABLE, type GlueTableOptions, glueTableInput, glueTableJson, type LakeTable } from './glue.js';
export { auditEventJsonSchema } from './json-schema.js';
export * from './time.js';
export { assertEvent, auditEventSchema, checkEvent } from './validate.js';
