/**
 * Splits a byte stream into lines without holding more than one line (plus one chunk) in memory.
 * A line longer than `maxBytes` is reported as too long instead of being buffered whole.
 */

/** One line: its 1-based number and text (`\r\n` and `\n` endings removed), or the fact that it was too long. */
export type Line = { number: number; text: string; tooLong: false } | { number: number; text: string; tooLong: true; bytes: number };

/** Lines of `bytes`, in order. A last line without a newline is still a line. */
export async function* readLines(bytes: AsyncIterable<Buffer>, maxBytes: number): AsyncIterable<Line> {
  let parts: Buffer[] = [];
  let size = 0;
  let overflow = 0;
  let number = 0;
  const take = (): Line => {
    number++;
    if (overflow > 0) {
      const head = Buffer.concat(parts).toString('utf8');
      const line: Line = { number, text: head, tooLong: true, bytes: overflow };
      parts = [];
      size = 0;
      overflow = 0;
      return line;
    }
    let buf = parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
    if (buf.length > 0 && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
    parts = [];
    size = 0;
    return { number, text: buf.toString('utf8'), tooLong: false };
  };
  const add = (piece: Buffer) => {
    if (overflow > 0) {
      overflow += piece.length;
      return;
    }
    if (size + piece.length > maxBytes) {
      // Keep the first bytes for the quarantine record, count the rest.
      const keep = Math.max(0, Math.min(piece.length, 1024 - size));
      if (keep > 0) parts.push(piece.subarray(0, keep));
      overflow = size + piece.length;
      return;
    }
    parts.push(piece);
    size += piece.length;
  };
  for await (const chunk of bytes) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      add(chunk.subarray(start, nl));
      start = nl + 1;
      yield take();
    }
    if (start < chunk.length) add(chunk.subarray(start));
  }
  if (size > 0 || overflow > 0) yield take();
}
