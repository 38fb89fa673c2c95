import { parentPort } from 'node:worker_threads';
import type { PieceJob, PieceResult } from '../collectors/contract.js';
import { PIECE_PARSERS } from '../collectors/pieces.js';
import { encodeEvents } from '../lake/staging-row.js';

/**
 * A parse worker (see `parse-pool.ts`): parses one piece of an input with its collector's piece parser
 * and encodes the events for the lake right here, so that only the encoded bytes (transferred, not
 * copied) and the counts cross back to the writing thread; the events themselves only when asked.
 */

/** A request to a parse worker. */
export interface PieceRequest {
  id: number;
  job: PieceJob;
  /** Send the event objects back too (a stage observes them). */
  keepEvents: boolean;
}

/** A parse worker's answer. */
export type PieceReply = { id: number; result: PieceResult } | { id: number; error: string };

/** A view that owns its whole buffer can be transferred; one sharing a pooled buffer is copied first. */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

function handle(request: PieceRequest): { reply: PieceReply; transfer: ArrayBuffer[] } {
  const parser = PIECE_PARSERS[request.job.format];
  if (!parser) return { reply: { id: request.id, error: `no piece parser for format ${request.job.format}` }, transfer: [] };
  const result = parser.parse(request.job);
  const transfer: ArrayBuffer[] = [];
  for (const batch of result.batches) {
    const encoded = encodeEvents(batch.events);
    for (const part of encoded.parts) {
      part.bytes = ownBuffer(part.bytes);
      transfer.push(part.bytes.buffer as ArrayBuffer);
    }
    batch.encoded = encoded;
    if (!request.keepEvents) batch.events = [];
  }
  return { reply: { id: request.id, result }, transfer };
}

parentPort?.on('message', (request: PieceRequest) => {
  let answer: { reply: PieceReply; transfer: ArrayBuffer[] };
  try {
    answer = handle(request);
  } catch (e) {
    answer = { reply: { id: request.id, error: (e as Error).stack ?? String(e) }, transfer: [] };
  }
  parentPort?.postMessage(answer.reply, answer.transfer);
});
