/** A line of a text input. */
export interface Line {
  text: string;
  /** 1-based line number. */
  lineNo: number;
  /** Set when the line exceeded the bound: its length in bytes; `text` then holds only its first KiB. */
  tooLong?: number;
}

/** Default longest line: a Kinesis record holds at most 1 MiB, so an envelope line is far below this. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

const KEPT_OF_LONG_LINE = 1024;

/**
 * Splits a byte stream into lines (LF; a CR before it is dropped), numbered from 1. A final line without a
 * newline counts; the newline that ends the last line does not start another. A line longer than `maxBytes`
 * is not held in memory: it is yielded with `tooLong` set and only its start kept.
 */
export async function* readLines(bytes: AsyncIterable<Buffer>, maxBytes = MAX_LINE_BYTES): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let kept = 0;
  let total = 0;
  let overflow = false;
  let lineNo = 0;

  const append = (piece: Buffer) => {
    total += piece.length;
    if (!overflow && kept + piece.length <= maxBytes) {
      parts.push(piece);
      kept += piece.length;
      return;
    }
    if (!overflow) {
      overflow = true;
      const head = Buffer.concat(parts).subarray(0, KEPT_OF_LONG_LINE);
      parts = [head];
      kept = head.length;
    }
    if (kept < KEPT_OF_LONG_LINE) {
      const more = piece.subarray(0, KEPT_OF_LONG_LINE - kept);
      parts.push(more);
      kept += more.length;
    }
  };

  const finish = (): Line => {
    let buf = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    if (!overflow && buf.length && buf[buf.length - 1] === 13) buf = buf.subarray(0, buf.length - 1);
    const line: Line = { text: buf.toString('utf8'), lineNo: ++lineNo };
    if (overflow) line.tooLong = total;
    parts = [];
    kept = 0;
    total = 0;
    overflow = false;
    return line;
  };

  for await (const chunk of bytes) {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      append(chunk.subarray(start, nl));
      yield finish();
      start = nl + 1;
    }
    if (start < chunk.length) append(chunk.subarray(start));
  }
  if (total > 0) yield finish();
}
