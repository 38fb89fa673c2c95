/** Schema v1 of the unified audit event and everything derived from it. */
export * from './fields.js';
export * from './time.js';
export * from './event-id.js';
export * from './batch.js';
export * from './event-json.js';
export { auditEventSchema, checkEvent, assertEvent } from './validate.js';
export { DUCKDB_TYPES, PARQUET_TYPES, duckdbColumns } from './columns.js';
export { ATHENA_TYPES, athenaEventsDdl, type AthenaDdlOptions } from './athena.js';
export { auditEventJsonSchema } from './json-schema.js';
