import type { PlainRow, RowStream } from './lake-session.js';
import type { TextSink } from './sink.js';

/**
 * Streams a report's rows as text: an aligned table (as psql prints), CSV (RFC 4180) or a JSON array
 * of row objects with the report's snake_case column names. Rows are written one DuckDB chunk at a
 * time, never collected.
 */

export type TextFormat = 'table' | 'csv' | 'json';

/** A value as one line of text (lists and objects as JSON). */
export function cellText(v: unknown): string {
  return v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function csvCell(v: unknown): string {
  const s = cellText(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Widest a table column gets; longer cells are cut with an ellipsis (CSV and JSON keep them whole). */
const MAX_TABLE_WIDTH = 60;

/** Writes every row of `stream` to `sink`; returns the number of rows. */
export async function writeRows(format: TextFormat, stream: RowStream, sink: TextSink): Promise<number> {
  const { columns } = stream;
  let count = 0;
  if (format === 'csv') await sink.write(`${columns.map(csvCell).join(',')}\n`);
  if (format === 'json') await sink.write('[');
  // The table's widths come from the header and the first chunk, so the table can stream.
  let widths: number[] | null = null;
  const tableLine = (cells: string[]) =>
    cells
      .map((v, i) => (v.length > widths![i] ? `${v.slice(0, widths![i] - 1)}…` : v.padEnd(widths![i])))
      .join(' | ')
      .trimEnd();
  const tableCells = (row: PlainRow) => columns.map((c) => cellText(row[c]).replace(/\r?\n/g, ' '));
  const startTable = async (first: PlainRow[]) => {
    const cells = first.map(tableCells);
    widths = columns.map((c, i) => Math.min(MAX_TABLE_WIDTH, Math.max(c.length, ...cells.map((r) => r[i].length))));
    await sink.write(`${tableLine(columns)}\n${widths.map((w) => '-'.repeat(w)).join('-+-')}\n`);
  };
  for await (const rows of stream.batches) {
    if (rows.length === 0) continue;
    let text = '';
    if (format === 'json') {
      text = rows.map((r, i) => `${count + i === 0 ? '\n' : ',\n'}  ${JSON.stringify(r)}`).join('');
    } else if (format === 'csv') {
      text = rows.map((r) => `${columns.map((c) => csvCell(r[c])).join(',')}\n`).join('');
    } else {
      if (!widths) await startTable(rows);
      text = rows.map((r) => `${tableLine(tableCells(r))}\n`).join('');
    }
    count += rows.length;
    await sink.write(text);
  }
  if (format === 'json') await sink.write(count === 0 ? ']\n' : '\n]\n');
  if (format === 'table') {
    if (!widths) await startTable([]);
    await sink.write(`(${count} row${count === 1 ? '' : 's'})\n`);
  }
  return count;
}
