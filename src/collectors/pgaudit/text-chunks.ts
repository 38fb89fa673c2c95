import { isAscii, isUtf8 } from 'node:buffer';

/**
 * Turns a byte stream into text cut at line boundaries, with line numbers, and with the lines whose
 * bytes are not valid UTF-8 named so that the records holding them can be quarantined instead of
 * written with replacement characters. 0x0A never occurs inside a multi-byte UTF-8 sequence, so a
 * cut after a newline byte never splits a character.
 */

/** A run of whole lines. */
export interface TextChunk {
  text: string;
  /** 1-based number of the chunk's first line in the input. */
  firstLine: number;
  /** Lines (1-based, input numbering) in this chunk that held invalid UTF-8. */
  invalidLines: number[];
  /** True for the last chunk; its text may not end with a newline. */
  last: boolean;
}

const NEWLINE = 0x0a;

/** Newlines in decoded text: a string search runs in V8, where `Buffer#indexOf` pays a native call per hit. */
export function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Decodes whole lines, validating UTF-8 once per chunk and only line by line when the chunk fails. A chunk
 * of ASCII only (most of a real server's log) is copied as Latin-1, which gives the same string about
 * twenty times faster than V8's UTF-8 decoder (0.2 vs 3.8 ns per byte here).
 */
export function decodeLines(bytes: Buffer, firstLine: number): { text: string; invalidLines: number[] } {
  if (isAscii(bytes)) return { text: bytes.toString('latin1'), invalidLines: [] };
  if (isUtf8(bytes)) return { text: bytes.toString('utf8'), invalidLines: [] };
  const invalidLines: number[] = [];
  const parts: string[] = [];
  let start = 0;
  let line = firstLine;
  while (start < bytes.length) {
    let end = bytes.indexOf(NEWLINE, start);
    end = end === -1 ? bytes.length : end + 1;
    const slice = bytes.subarray(start, end);
    if (!isUtf8(slice)) invalidLines.push(line);
    parts.push(slice.toString('utf8'));
    start = end;
    line++;
  }
  return { text: parts.join(''), invalidLines };
}

/** Reads `bytes` as text chunks of whole lines. Memory holds at most one input chunk plus one partial line. */
export async function* textChunks(bytes: AsyncIterable<Buffer>): AsyncGenerator<TextChunk> {
  let carry: Buffer = Buffer.alloc(0);
  let line = 1;
  for await (const chunk of bytes) {
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const cut = buf.lastIndexOf(NEWLINE);
    if (cut === -1) {
      carry = buf;
      continue;
    }
    const whole = buf.subarray(0, cut + 1);
    carry = Buffer.from(buf.subarray(cut + 1));
    const { text, invalidLines } = decodeLines(whole, line);
    yield { text, firstLine: line, invalidLines, last: false };
    line += countNewlines(text);
  }
  const { text, invalidLines } = decodeLines(carry, line);
  yield { text, firstLine: line, invalidLines, last: true };
}
