/**
 * A streaming reader of CSV records (RFC 4180 as PostgreSQL's csvlog writes it): quoted fields may
 * hold commas, doubled quotes and raw CR/LF, so records are never found by splitting on newlines.
 *
 * It is hand-written rather than `csv-parse` because it runs for every byte of multi-GB logs (see the
 * README's design notes for the measurement) and because it must recover from garbage: a record that
 * does not parse costs only its first physical line, which is rejected, and reading resumes on the
 * next line, so one truncated line never swallows the records after it.
 */

/** A parsed record, or a rejected stretch of input. */
export type CsvItem = { ok: true; fields: string[]; line: number; raw: string } | { ok: false; reason: string; line: number; raw: string };

/** Longest record we wait for before declaring its first line garbage; bounds memory. */
export const MAX_RECORD_CHARS = 64 * 1024 * 1024;

const QUOTE = 34; // "
const COMMA = 44; // ,
const LF = 10;
const CR = 13;

type Parse = { fields: string[]; end: number } | { incomplete: true } | { error: string };

/** Parses one record starting at `pos`. `final` says no more text will come. */
export function parseCsvRecord(buf: string, pos: number, final: boolean): Parse {
  const fields: string[] = [];
  let nl = buf.indexOf('\n', pos);
  for (;;) {
    if (buf.charCodeAt(pos) === QUOTE) {
      // Find the closing quote, stepping over doubled ones, then slice once: building the value
      // piece by piece makes a tree of small strings per field, and csvlog's nested quoting (three
      // layers for pgAudit parameters) has many doubled quotes.
      let q = buf.indexOf('"', pos + 1);
      let doubled = false;
      for (;;) {
        if (q === -1) return final ? { error: 'unterminated quoted field' } : { incomplete: true };
        if (q + 1 >= buf.length && !final) return { incomplete: true };
        if (buf.charCodeAt(q + 1) !== QUOTE) break;
        doubled = true;
        q = buf.indexOf('"', q + 2);
      }
      const raw = buf.slice(pos + 1, q);
      const value = doubled ? raw.replaceAll('""', '"') : raw;
      const p = q + 1;
      fields.push(value);
      const c = buf.charCodeAt(p);
      if (c === COMMA) {
        pos = p + 1;
        if (nl !== -1 && nl < pos) nl = buf.indexOf('\n', pos);
        continue;
      }
      if (c === LF) return { fields, end: p + 1 };
      if (c === CR && buf.charCodeAt(p + 1) === LF) return { fields, end: p + 2 };
      if (p >= buf.length) return final ? { fields, end: p } : { incomplete: true };
      if (c === CR && p + 1 >= buf.length && !final) return { incomplete: true };
      return { error: `unexpected character after a closing quote at column ${fields.length}` };
    }
    if (nl !== -1 && nl < pos) nl = buf.indexOf('\n', pos);
    const comma = buf.indexOf(',', pos);
    if (comma !== -1 && (nl === -1 || comma < nl)) {
      fields.push(buf.slice(pos, comma));
      pos = comma + 1;
      continue;
    }
    if (nl === -1) {
      if (!final) return { incomplete: true };
      fields.push(buf.slice(pos));
      return { fields, end: buf.length };
    }
    const fieldEnd = nl > pos && buf.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
    fields.push(buf.slice(pos, fieldEnd));
    return { fields, end: nl + 1 };
  }
}

function countLines(buf: string, start: number, end: number): number {
  let n = 0;
  let i = buf.indexOf('\n', start);
  while (i !== -1 && i < end) {
    n++;
    i = buf.indexOf('\n', i + 1);
  }
  return n;
}

/** Feeds text chunks in, takes records out. */
export class CsvRecordReader {
  private buf = '';

  /** `line` numbers the first line of the text pushed first (1 at the start of an input). */
  constructor(private line = 1) {}

  /** Text pushed but not yet returned (the start of an unfinished record), and its first line's number. */
  get pending(): { text: string; line: number } {
    return { text: this.buf, line: this.line };
  }

  /**
   * Adds text and yields every record completed by it; `final` flushes the rest. Records are yielded one
   * at a time, not gathered per chunk: a chunk's thousands of field lists would all outlive a young
   * collection. Read the generator to its end before pushing more.
   */
  *push(text: string, final: boolean): Generator<CsvItem> {
    this.buf = this.buf.length ? this.buf + text : text;
    const buf = this.buf;
    let pos = 0;
    while (pos < buf.length) {
      const parsed = parseCsvRecord(buf, pos, final);
      if ('incomplete' in parsed) {
        if (buf.length - pos <= MAX_RECORD_CHARS) break;
        const rejected = this.rejectFirstLine(buf, pos, `record longer than ${MAX_RECORD_CHARS} characters (unterminated quote?)`);
        pos = rejected.end;
        yield rejected.item;
        continue;
      }
      if ('error' in parsed) {
        // Judge a line only once it is whole: the rest of it may still be on its way.
        if (!final && buf.indexOf('\n', pos) === -1) break;
        const rejected = this.rejectFirstLine(buf, pos, parsed.error);
        pos = rejected.end;
        yield rejected.item;
        continue;
      }
      const item: CsvItem = { ok: true, fields: parsed.fields, line: this.line, raw: buf.slice(pos, parsed.end) };
      this.line += countLines(buf, pos, parsed.end);
      pos = parsed.end;
      yield item;
    }
    this.buf = pos < buf.length ? buf.slice(pos) : '';
  }

  /** Rejects the physical line at `pos`: the item, and where reading resumes. */
  private rejectFirstLine(buf: string, pos: number, reason: string): { item: CsvItem; end: number } {
    const nl = buf.indexOf('\n', pos);
    const end = nl === -1 ? buf.length : nl + 1;
    const item: CsvItem = { ok: false, reason, line: this.line, raw: buf.slice(pos, end) };
    if (nl !== -1) this.line++;
    return { item, end };
  }
}
