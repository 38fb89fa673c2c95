import type { Batch, SourceFormat } from '../../schema/index.js';
import type { PieceJob, PieceParser, PieceResult } from '../contract.js';
import { BatchBuilder } from './batch-builder.js';
import { CsvlogReader } from './csvlog-reader.js';
import { countNewlines, decodeLines } from './text-chunks.js';

/**
 * csvlog cut into pieces that parse on their own, so that worker threads can read one input in parallel.
 *
 * A piece is cut just before a line that starts like a csvlog record (`YYYY-MM-DD HH:MM:SS`). That is
 * almost always a record boundary, but a quoted statement can hold such a line. Correctness does not rest
 * on the guess: a piece is parsed with the same reader as a whole input, and when its last record does
 * not end inside it, the piece reports the unconsumed text (`restBytes`); the caller then discards the
 * next piece's result and parses that text together with the next piece again. Every record is
 * therefore read exactly as the sequential reader reads it, with the same line numbers.
 */

const LF = 0x0a;
const SPACE = 0x20;
const DASH = 0x2d;
const COLON = 0x3a;

/** Bytes decoded and read at a time within a piece. */
const READ_BYTES = 1024 * 1024;

/** Look this far back from a piece's end for a line that starts a record. */
const CUT_WINDOW = 256 * 1024;

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** True when `bytes` at `at` reads `YYYY-MM-DD HH:MM:SS`. */
function startsRecord(bytes: Uint8Array, at: number): boolean {
  if (at + 19 > bytes.length) return false;
  for (let i = 0; i < 19; i++) {
    const c = bytes[at + i];
    const ok = i === 4 || i === 7 ? c === DASH : i === 10 ? c === SPACE : i === 13 || i === 16 ? c === COLON : isDigit(c);
    if (!ok) return false;
  }
  return true;
}

/** Where to cut a run of whole lines: after the last newline that a record start follows; -1 when none is near the end. */
function cutCsvlog(bytes: Uint8Array): number {
  const floor = Math.max(0, bytes.length - CUT_WINDOW);
  for (let nl = bytes.lastIndexOf(LF, bytes.length - 2); nl >= floor && nl !== -1; nl = bytes.lastIndexOf(LF, nl - 1)) {
    if (startsRecord(bytes, nl + 1)) return nl + 1;
    if (nl === 0) break;
  }
  return -1;
}

/** Parses one piece of a csvlog input into batches. */
function parseCsvlogPiece(job: PieceJob, finish: (batch: Batch) => Batch = (batch) => batch): PieceResult {
  const b = new BatchBuilder(
    { format: job.format as SourceFormat, key: job.key, ingestTime: job.ingestTime, clusterId: null, instanceId: null },
    job.batchSize,
  );
  const reader = new CsvlogReader(job.name, b, job.firstLine);
  const bytes = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.length);
  const batches: Batch[] = [];
  // Read in runs of whole lines, as `textChunks` does for a whole input, taking batches as they fill:
  // one string and one batch for the whole piece would outlive the young generation.
  let line = job.firstLine;
  for (let start = 0; start < bytes.length || start === 0; ) {
    let end = bytes.length;
    if (end - start > READ_BYTES) {
      const nl = bytes.lastIndexOf(LF, start + READ_BYTES);
      end = nl >= start ? nl + 1 : bytes.length;
    }
    const { text, invalidLines } = decodeLines(bytes.subarray(start, end), line);
    // Batches exactly as the sequential reader cuts them, so files roll at the same rows.
    for (const full of reader.read({ text, firstLine: line, invalidLines, last: job.final && end === bytes.length }))
      batches.push(finish(full));
    line += countNewlines(text);
    start = end;
    if (end === bytes.length) break;
  }
  const last = b.take(true);
  if (last && last.records > 0) batches.push(finish(last));
  const rest = reader.pending;
  return { batches, restBytes: rest.text ? bytes.length - lineOffset(bytes, rest.line - job.firstLine) : 0, restLine: rest.line };
}

/** Byte offset of the `n`th line (0-based) of `bytes`: counted in bytes, as decoded text may differ in length. */
function lineOffset(bytes: Buffer, n: number): number {
  let at = 0;
  for (let i = 0; i < n; i++) at = bytes.indexOf(LF, at) + 1;
  return at;
}

/** csvlog as pieces for parse workers. */
export const csvlogPieces: PieceParser = { cut: cutCsvlog, parse: parseCsvlogPiece };
