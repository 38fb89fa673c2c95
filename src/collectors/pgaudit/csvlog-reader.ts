import type { Batch } from '../../schema/index.js';
import type { BatchBuilder } from './batch-builder.js';
import { CsvRecordReader } from './csv-records.js';
import { csvFieldsToRecord } from './csvlog.js';
import type { TextChunk } from './text-chunks.js';

/** Newlines inside a record's text, not counting the one that ends it: its extra physical lines. */
function innerLines(raw: string): number {
  let n = 0;
  const end = raw.endsWith('\n') ? raw.length - 1 : raw.length;
  for (let i = raw.indexOf('\n'); i !== -1 && i < end; i = raw.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Reads csvlog text chunks into a {@link BatchBuilder}: records, malformed records and records on lines
 * with invalid UTF-8 (quarantined). Used whole by the sequential reader, and piece by piece by parse
 * workers (`csvlog-pieces.ts`), which start it at a piece's first line.
 */
export class CsvlogReader {
  private readonly reader: CsvRecordReader;
  // Lines with invalid UTF-8 not yet passed by a record; a record may span several chunks.
  private readonly invalid = new Set<number>();

  constructor(
    private readonly name: string,
    private readonly b: BatchBuilder,
    firstLine = 1,
  ) {
    this.reader = new CsvRecordReader(firstLine);
  }

  /** Text not yet consumed (an unfinished record) and its first line. */
  get pending(): { text: string; line: number } {
    return this.reader.pending;
  }

  private firstInvalidIn(first: number, last: number): number | null {
    let found: number | null = null;
    for (const line of this.invalid) {
      if (line >= first && line <= last && (found === null || line < found)) found = line;
      if (line <= last) this.invalid.delete(line);
    }
    return found;
  }

  /**
   * Reads one chunk and yields each batch as soon as it is full, so a chunk's events are
   * not all alive at once: a 2 MB chunk holds thousands of records, and events that outlive a young
   * collection are copied and promoted, which made garbage collection a fifth of ingest's main thread.
   */
  *read(chunk: TextChunk): Generator<Batch> {
    const b = this.b;
    for (const line of chunk.invalidLines) this.invalid.add(line);
    for (const item of this.reader.push(chunk.text, chunk.last)) {
      const ref = `${this.name}:${item.line}`;
      const bad = this.invalid.size ? this.firstInvalidIn(item.line, item.line + innerLines(item.raw)) : null;
      if (!item.ok) b.reject(ref, `malformed csvlog record: ${item.reason}`, item.raw);
      else if (bad !== null) b.reject(ref, `invalid UTF-8 on line ${bad}`, item.raw);
      else {
        const record = csvFieldsToRecord(item.fields);
        if (typeof record === 'string') b.reject(ref, record, item.raw);
        else b.add(record, item.line, ref, item.raw);
      }
      const full = b.take();
      if (full) yield full;
    }
  }
}
