import { type AuditEvent, EVENT_FIELDS, type FieldSpec } from '../schema/index.js';

/**
 * Events reach Parquet through a staged CSV file that DuckDB converts (`parquet-convert.ts`): building
 * one CSV line per event is the cheapest thing JavaScript can do with an event, and DuckDB's reader
 * and Parquet writer then run natively, off the JavaScript thread.
 *
 * The staging dialect is ours alone, so it is chosen to be unambiguous: every non-null text value is
 * quoted (inner quotes doubled), a null is an empty unquoted field, timestamps are integer
 * microseconds, lists are JSON arrays. `read_csv` is told the same (`allow_quoted_nulls=false`).
 */

/** Quotes a text value for the staging CSV. */
export function quoteText(value: string): string {
  return value.includes('"') ? `"${value.replaceAll('"', '""')}"` : `"${value}"`;
}

/** JavaScript expression that renders `v` (the field's value) as a staging CSV field. */
function encodeExpression(field: FieldSpec, v: string): string {
  switch (field.type) {
    case 'string':
      return `(${v} == null ? '' : quoteText(${v}))`;
    case 'string_list':
      return `(${v} == null ? '' : quoteText(JSON.stringify(${v})))`;
    case 'boolean':
      return `(${v} == null ? '' : ${v} ? 'true' : 'false')`;
    default:
      // Numbers, and timestamps as integer microseconds, print exactly as JavaScript renders them.
      return `(${v} == null || ${v} !== ${v} ? '' : String(${v}))`;
  }
}

/**
 * The row encoder is generated once from the schema: a function with one static property read per
 * column is several times faster than a loop of keyed reads and per-field closures, and this runs
 * for every event written.
 */
function compileRowEncoder(fields: readonly FieldSpec[]): (event: object) => string {
  const parts = fields.map((f) => encodeExpression(f, `e[${JSON.stringify(f.name)}]`));
  const body = `return ${parts.join(" + ',' + ")} + '\\n';`;
  return new Function('quoteText', `return function stagingRow(e) { ${body} };`)(quoteText);
}

/** Builds the staging row encoder of any declared field list (events, alerts). */
export function rowEncoderFor(fields: readonly FieldSpec[]): (record: object) => string {
  return compileRowEncoder(fields);
}

/** One staging CSV line (with its newline) for an event, columns in `EVENT_FIELDS` order. */
export const stagingRow: (event: AuditEvent) => string = compileRowEncoder(EVENT_FIELDS);
