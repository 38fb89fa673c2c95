import { randomUUID } from 'node:crypto';
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { type AuditEvent, EVENT_FIELDS, type FieldSpec, type Rejected } from '../schema/index.js';
import { convertStagedTable, type ParquetOptions, stagedColumn } from './parquet-convert.js';
import { MAX_ROW_BYTES, oversizedEvent, stagingRow } from './staging-row.js';

/**
 * The appender writer (`AUDITLAKE_WRITER=append`): a partition's events are appended as columns, with
 * DuckDB's appender, into a table of the staged column types (timestamps as integer microseconds, lists
 * as JSON text, as in the staged CSV), and that table is copied to Parquet with the same conversions as a
 * staged CSV file. Nothing is quoted or encoded as text by JavaScript and DuckDB parses no CSV: each value
 * crosses into DuckDB once, as itself.
 *
 * The table lives in DuckDB's in-memory database (spilled to its temp directory past its memory limit);
 * values are appended on one connection while the previous part's COPY runs on another.
 */

/** JavaScript statement appending `v` (the field's value) to appender `a`, adding a text's length to `n`. */
function appendStatement(field: FieldSpec, v: string): string {
  const guard = `if (${v} == null) a.appendNull(); else`;
  switch (field.type) {
    case 'string':
      return `${guard} { a.appendVarchar(${v}); n += ${v}.length; }`;
    case 'string_list':
      return `${guard} { const t = JSON.stringify(${v}); a.appendVarchar(t); n += t.length; }`;
    case 'boolean':
      return `${guard} a.appendBoolean(${v});`;
    case 'int':
      return `if (${v} == null || ${v} !== ${v}) a.appendNull(); else a.appendInteger(${v});`;
    case 'double':
      return `if (${v} == null || ${v} !== ${v}) a.appendNull(); else a.appendDouble(${v});`;
    default:
      // bigint and timestamp (integer microseconds): exact in a double up to 2^53.
      return `if (${v} == null || ${v} !== ${v}) a.appendNull(); else a.appendBigInt(BigInt(${v}));`;
  }
}

/** The row appender, generated once per field list (one static property read per column, as for staged rows). */
function compileRowAppender(fields: readonly FieldSpec[]): (a: DuckDBAppender, e: object) => number {
  const body = fields.map((f) => appendStatement(f, `e[${JSON.stringify(f.name)}]`)).join('\n');
  return new Function('a', 'e', `let n = ${fields.length};\n${body}\na.endRow();\nreturn n;`) as (a: DuckDBAppender, e: object) => number;
}

/**
 * Characters of an event's text values and list items. A staged row is at most six times that plus a few
 * hundred characters (quotes doubled, JSON escapes, numbers): only events near the limit need their row built.
 */
function compileTextLength(fields: readonly FieldSpec[]): (e: object) => number {
  const parts = fields
    .filter((f) => f.type === 'string' || f.type === 'string_list')
    .map((f) => {
      const v = `e[${JSON.stringify(f.name)}]`;
      return f.type === 'string' ? `(${v} == null ? 0 : ${v}.length)` : `(${v} == null ? 0 : listChars(${v}))`;
    });
  return new Function('listChars', `return function textLength(e) { return ${parts.join(' + ')}; };`)(listChars) as (e: object) => number;
}

function listChars(list: readonly string[]): number {
  let n = 2;
  for (const item of list) n += (item?.length ?? 4) + 3;
  return n;
}

const appendEvent = compileRowAppender(EVENT_FIELDS);
const textLength = compileTextLength(EVENT_FIELDS);

/** A part of one partition being appended to its own table. */
export class AppendedPart {
  rows = 0;
  /** Characters of text appended: the part's size for rolling, comparable to a staged file's bytes. */
  size = 0;
  private closed = false;

  private constructor(
    readonly table: string,
    private readonly appender: DuckDBAppender,
    private readonly connection: DuckDBConnection,
  ) {}

  /** A new empty part table on `connection` (the appending connection). */
  static async create(connection: DuckDBConnection, fields: readonly FieldSpec[] = EVENT_FIELDS): Promise<AppendedPart> {
    const table = `part_${randomUUID().replaceAll('-', '')}`;
    const columns = fields.map((f) => `"${f.name}" ${stagedColumn(f).staged}`).join(', ');
    await connection.run(`CREATE TABLE ${table} (${columns})`);
    return new AppendedPart(table, await connection.createAppender(table), connection);
  }

  /**
   * Appends events from `start` until the part's size reaches `rollAt`; returns where it stopped, and the
   * events too large to store (the staged writer's limit, `MAX_ROW_BYTES`, decided on the same staged row),
   * which are not appended.
   */
  add(events: readonly AuditEvent[], start: number, rollAt: number): { next: number; oversized: (Rejected & { event_class: string })[] } {
    const oversized: (Rejected & { event_class: string })[] = [];
    let i = start;
    while (i < events.length && this.size < rollAt) {
      const event = events[i++];
      if (6 * textLength(event) + 4096 > MAX_ROW_BYTES) {
        const row = stagingRow(event);
        if (Buffer.byteLength(row) > MAX_ROW_BYTES) {
          oversized.push(oversizedEvent(event, row));
          continue;
        }
      }
      this.size += appendEvent(this.appender, event);
      this.rows++;
    }
    return { next: i, oversized };
  }

  /** Flushes and closes the appender: the rows are committed to the table. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.appender.closeSync();
  }

  /** Copies the table to a Parquet file on `connection` (another than the appending one) and drops it. */
  async convert(connection: DuckDBConnection, parquetPath: string, options: ParquetOptions): Promise<number> {
    await this.close();
    try {
      return await convertStagedTable(connection, this.table, parquetPath, options);
    } finally {
      await connection.run(`DROP TABLE IF EXISTS ${this.table}`);
    }
  }

  /** Drops the table and what was appended. */
  async discard(): Promise<void> {
    try {
      if (!this.closed) {
        this.closed = true;
        this.appender.clear();
        this.appender.closeSync();
      }
    } catch {}
    await this.connection.run(`DROP TABLE IF EXISTS ${this.table}`);
  }
}
