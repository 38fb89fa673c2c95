import type { CollectorContext, CollectorInput, PieceJob, PieceParser, PieceResult } from '../collectors/contract.js';
import type { Batch } from '../schema/index.js';
import type { ParsePool } from './parse-pool.js';
import type { WorkerStages } from './parse-worker.js';

/**
 * Reads one input in pieces parsed on worker threads, and yields their batches in input order. This
 * thread only cuts the bytes into pieces (at whole lines, where the format's `cut` proposes) and counts
 * their lines; the workers parse, map, run `stages` (redaction, the policies) and encode, so every batch
 * yielded carries `encoded` and has been through those stages already. Memory holds at most `inFlight` pieces and their results.
 *
 * When a piece ends inside a record (the cut guessed wrong), its unconsumed bytes are parsed again
 * together with the next piece, whose own result is discarded: a wrong cut costs time, never a record.
 */

/** Bytes per piece: large enough that a message per piece costs nothing, small enough to keep memory flat. */
export const PIECE_BYTES = 4 * 1024 * 1024;

interface Sent {
  job: PieceJob;
  result: Promise<PieceResult>;
}

const LF = 0x0a;

function countLines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) n++;
  return n;
}

/** The batches of `input`, parsed in pieces by `parser` on `pool`'s workers. */
export async function* pieceBatches(
  input: CollectorInput,
  format: string,
  ctx: CollectorContext,
  parser: PieceParser,
  pool: ParsePool,
  keepEvents: boolean,
  stages: WorkerStages,
  pieceBytes = PIECE_BYTES,
): AsyncGenerator<Batch> {
  const inFlight = pool.size * 2;
  const sent: Sent[] = [];
  let line = 1;
  const send = (bytes: Uint8Array, firstLine: number, final: boolean) => {
    const job: PieceJob = {
      bytes,
      firstLine,
      final,
      format,
      name: input.name,
      key: input.key,
      ingestTime: ctx.ingestTime,
      batchSize: ctx.batchSize,
    };
    // A rejection is observed when the piece's turn comes; until then it must not count as unhandled.
    const result = pool.parse(job, keepEvents, stages);
    result.catch(() => {});
    sent.push({ job, result });
  };
  // Takes the oldest piece's result; when it ends inside a record, re-parses that rest with the next piece.
  async function* next(): AsyncGenerator<Batch> {
    const first = sent.shift() as Sent;
    const result = await first.result;
    yield* result.batches;
    if (result.restBytes === 0 || first.job.final) return;
    const rest = first.job.bytes.subarray(first.job.bytes.length - result.restBytes);
    const following = sent.shift();
    if (!following) throw new Error(`piece ending at line ${result.restLine} has an unfinished record and no piece follows`);
    following.result.catch(() => {});
    const joined = new Uint8Array(rest.length + following.job.bytes.length);
    joined.set(rest, 0);
    joined.set(following.job.bytes, rest.length);
    const job: PieceJob = { ...following.job, bytes: joined, firstLine: result.restLine };
    const again = pool.parse(job, keepEvents, stages);
    again.catch(() => {});
    sent.unshift({ job, result: again });
  }

  let pending: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of input.bytes) {
    pending.push(chunk);
    size += chunk.length;
    // As many pieces of about `pieceBytes` as the bytes at hand hold (a chunk may hold several).
    while (size >= pieceBytes) {
      const buf = Buffer.concat(pending, size);
      // Whole lines up to the piece size; a line longer than a piece goes whole into one.
      let lastLine = buf.lastIndexOf(LF, pieceBytes - 1);
      if (lastLine === -1) lastLine = buf.indexOf(LF, pieceBytes);
      if (lastLine === -1) {
        pending = [buf];
        break;
      }
      const whole = buf.subarray(0, lastLine + 1);
      const cut = parser.cut(whole);
      const end = cut > 0 ? cut : whole.length;
      // An own copy: a message copies a view's whole buffer. The rest stays a view, copied by the next concat.
      const piece = new Uint8Array(buf.subarray(0, end));
      const rest = buf.subarray(end);
      pending = rest.length ? [rest] : [];
      size = rest.length;
      send(piece, line, false);
      line += countLines(piece);
      while (sent.length >= inFlight) yield* next();
    }
  }
  send(new Uint8Array(Buffer.concat(pending, size)), line, true);
  while (sent.length > 0) yield* next();
}
