import { type AuditEvent, type EncodedEvents, EVENT_FIELDS, type FieldSpec, type Rejected } from '../schema/index.js';
import { eventDate } from './layout.js';

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

/** Largest staged row; a larger event is quarantined rather than written (DuckDB's line limit). */
export const MAX_ROW_BYTES = 8 * 1024 * 1024;

/** The quarantine entry of an event whose staged row (`row`) is longer than {@link MAX_ROW_BYTES}. */
export function oversizedEvent(event: AuditEvent, row: string): Rejected & { event_class: string } {
  return {
    source_ref: event.source_ref,
    reason: `event larger than ${MAX_ROW_BYTES} bytes once encoded`,
    raw: row.slice(0, 65536),
    event_class: event.event_class,
  };
}

/** Characters of rows gathered before they are encoded to UTF-8 in one call. */
export const ENCODE_CHARS = 256 * 1024;

/**
 * Encodes events as staged rows grouped by partition date: the one encoding every source's events take
 * on their way to Parquet, on whichever thread holds them (a parse worker, or the writer's). Rows are
 * joined into pieces of about `pieceChars` characters, each encoded to UTF-8 with one call: a native
 * call per row cost more than the join, and the joined text dies young. A date has one or more pieces,
 * and the writer may roll a file after any piece.
 */
export function encodeEvents(events: readonly AuditEvent[], pieceChars = ENCODE_CHARS): EncodedEvents {
  const open = new Map<string, { rows: number; text: string[]; chars: number }>();
  const parts: EncodedEvents['parts'] = [];
  const oversized: EncodedEvents['oversized'] = [];
  const classes: Record<string, Record<string, number>> = {};
  const seal = (date: string, piece: { rows: number; text: string[] }) => {
    parts.push({ date, rows: piece.rows, bytes: Buffer.from(piece.text.join(''), 'utf8') });
  };
  for (const event of events) {
    classes[event.source] ??= {};
    const bySource = classes[event.source];
    bySource[event.event_class] = (bySource[event.event_class] ?? 0) + 1;
    const row = stagingRow(event);
    if (row.length > MAX_ROW_BYTES) {
      oversized.push(oversizedEvent(event, row));
      continue;
    }
    const date = eventDate(event.event_time);
    let piece = open.get(date);
    if (!piece) {
      piece = { rows: 0, text: [], chars: 0 };
      open.set(date, piece);
    }
    piece.rows++;
    piece.text.push(row);
    piece.chars += row.length;
    if (piece.chars >= pieceChars) {
      seal(date, piece);
      open.delete(date);
    }
  }
  for (const [date, piece] of open) seal(date, piece);
  return { parts, oversized, classes };
}
