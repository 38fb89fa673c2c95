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

/** Largest staged row in UTF-8 bytes; a larger event is quarantined rather than written (DuckDB's `max_line_size`, in bytes). */
export const MAX_ROW_BYTES = 8 * 1024 * 1024;

/** The quarantine entry of an event whose staged row (`row`) takes more than {@link MAX_ROW_BYTES} bytes. */
export function oversizedEvent(event: AuditEvent, row: string): Rejected & { event_class: string } {
  return {
    source_ref: event.source_ref,
    reason: `event larger than ${MAX_ROW_BYTES} bytes once encoded`,
    raw: row.slice(0, 65536),
    event_class: event.event_class,
  };
}

/** Bytes of rows gathered before a piece is sealed. */
export const ENCODE_CHARS = 256 * 1024;

const COMMA = 0x2c;
const NEWLINE = 0x0a;
const QUOTE = 0x22;
/** Text up to this many characters is copied by JavaScript rather than by the native encoder. */
const SHORT_TEXT = 16;

/**
 * Staged rows written straight into bytes. Building a row as a string and encoding it afterwards cost a
 * third of ingest's main thread (concatenated strings flattened by the join, then walked again by the
 * UTF-8 encoder); here each text value is encoded once, into its place. A piece keeps one scratch buffer
 * that grows to fit, and hands out an exact copy when sealed, so a piece of a few rows does not pin a
 * large buffer while it waits to be written.
 */
export class RowBytes {
  private buf: Buffer;
  pos = 0;

  constructor(capacity = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  private reserve(bytes: number): Buffer {
    if (this.pos + bytes > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
      this.buf.copy(grown, 0, 0, this.pos);
      this.buf = grown;
    }
    return this.buf;
  }

  /** A quoted text field, inner quotes doubled. */
  text(value: string): void {
    if (value.length <= SHORT_TEXT) {
      // Most values (names, classes, commands) are short ASCII: copying their characters here costs less
      // than a call into the native UTF-8 encoder. The first character past ASCII hands the rest to it.
      const buf = this.reserve(2 * value.length + 2);
      let pos = this.pos;
      buf[pos++] = QUOTE;
      for (let i = 0; i < value.length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) {
          this.pos = pos;
          this.textTail(value.slice(i));
          return;
        }
        buf[pos++] = c;
        if (c === QUOTE) buf[pos++] = QUOTE;
      }
      buf[pos++] = QUOTE;
      this.pos = pos;
      return;
    }
    const quoted = value.includes('"') ? value.replaceAll('"', '""') : value;
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const buf = this.reserve(3 * quoted.length + 2);
    buf[this.pos++] = QUOTE;
    this.pos += buf.write(quoted, this.pos);
    buf[this.pos++] = QUOTE;
  }

  /** The rest of a short text field from its first non-ASCII character: quotes doubled, closing quote. */
  private textTail(rest: string): void {
    const quoted = rest.includes('"') ? rest.replaceAll('"', '""') : rest;
    const buf = this.reserve(3 * quoted.length + 1);
    this.pos += buf.write(quoted, this.pos);
    buf[this.pos++] = QUOTE;
  }

  /** An unquoted field of ASCII characters (numbers, booleans). */
  ascii(value: string): void {
    const buf = this.reserve(value.length);
    for (let i = 0; i < value.length; i++) buf[this.pos++] = value.charCodeAt(i);
  }

  /** One separator byte. */
  byte(value: number): void {
    this.reserve(1)[this.pos++] = value;
  }

  /** Forgets the bytes after `pos` (a row that was not kept). */
  rewind(pos: number): void {
    this.pos = pos;
  }

  /** The bytes written so far, copied out, and an empty buffer for the next piece. */
  take(): Uint8Array {
    const bytes = Buffer.allocUnsafeSlow(this.pos);
    this.buf.copy(bytes, 0, 0, this.pos);
    this.pos = 0;
    return bytes;
  }
}

/** JavaScript statements that write `v` (the field's value) and the separator after it into `w`. */
function writeStatements(field: FieldSpec, v: string, last: boolean): string {
  let write: string;
  switch (field.type) {
    case 'string':
      write = `if (${v} != null) w.text(${v});`;
      break;
    case 'string_list':
      write = `if (${v} != null) w.text(JSON.stringify(${v}));`;
      break;
    case 'boolean':
      write = `if (${v} != null) w.ascii(${v} ? 'true' : 'false');`;
      break;
    default:
      // Numbers, and timestamps as integer microseconds, print exactly as JavaScript renders them.
      write = `if (${v} != null && ${v} === ${v}) w.ascii(String(${v}));`;
  }
  return `${write} w.byte(${last ? NEWLINE : COMMA});`;
}

/** The byte writer of one row, generated from the schema for the reason `compileRowEncoder` gives. */
function compileRowWriter(fields: readonly FieldSpec[]): (event: object, w: RowBytes) => void {
  const body = fields.map((f, i) => `v = e[${JSON.stringify(f.name)}]; ${writeStatements(f, 'v', i === fields.length - 1)}`).join('\n');
  return new Function(`return function writeStagingRow(e, w) { let v;\n${body}\n};`)();
}

/** Writes one staging CSV line (with its newline) for an event into `w`: the bytes of {@link stagingRow}. */
export const writeStagingRow: (event: AuditEvent, w: RowBytes) => void = compileRowWriter(EVENT_FIELDS);

/**
 * Encodes events as staged rows grouped by partition date: the one encoding every source's events take
 * on their way to Parquet, on whichever thread holds them (a parse worker, or the writer's). A date's
 * rows are written into one buffer and sealed into a piece at about `pieceBytes`; a date has one or more
 * pieces, and the writer may roll a file after any piece.
 */
export function encodeEvents(events: readonly AuditEvent[], pieceBytes = ENCODE_CHARS): EncodedEvents {
  const open = new Map<string, { rows: number; bytes: RowBytes }>();
  const parts: EncodedEvents['parts'] = [];
  const oversized: EncodedEvents['oversized'] = [];
  const classes: Record<string, Record<string, number>> = {};
  for (const event of events) {
    classes[event.source] ??= {};
    const bySource = classes[event.source];
    bySource[event.event_class] = (bySource[event.event_class] ?? 0) + 1;
    const date = eventDate(event.event_time);
    let piece = open.get(date);
    if (!piece) {
      piece = { rows: 0, bytes: new RowBytes(Math.min(pieceBytes + 64 * 1024, 1024 * 1024)) };
      open.set(date, piece);
    }
    const start = piece.bytes.pos;
    writeStagingRow(event, piece.bytes);
    if (piece.bytes.pos - start > MAX_ROW_BYTES) {
      piece.bytes.rewind(start);
      oversized.push(oversizedEvent(event, stagingRow(event)));
      continue;
    }
    piece.rows++;
    if (piece.bytes.pos >= pieceBytes) {
      parts.push({ date, rows: piece.rows, bytes: piece.bytes.take() });
      piece.rows = 0;
    }
  }
  for (const [date, piece] of open) if (piece.rows > 0) parts.push({ date, rows: piece.rows, bytes: piece.bytes.take() });
  return { parts, oversized, classes };
}
