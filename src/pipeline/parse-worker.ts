import { parentPort } from 'node:worker_threads';
import type { PieceJob, PieceResult } from '../collectors/contract.js';
import { PIECE_PARSERS } from '../collectors/pieces.js';
import { encodeEvents } from '../lake/staging-row.js';
import { redactBatch } from '../redact/redact-batch.js';
import { createSqlRedactor, type RedactPatterns, type SqlRedactor } from '../redact/redact-sql.js';
import type { Batch } from '../schema/index.js';
import type { BatchTransform, TransformSpec } from './policies-stage.js';

/**
 * A parse worker (see `parse-pool.ts`): parses one piece of an input with its collector's piece parser,
 * runs the stages that change events (redaction, then the run's transforms: the policies) exactly as
 * the writing thread would, and only then encodes the events for the lake, so that only the encoded
 * bytes (transferred, not copied) and the counts cross back to the writing thread; the events themselves
 * only when asked. No unredacted text ever leaves this thread, in the encoded rows or in the events.
 */

/** The stages a parse worker runs before it encodes, as plain data (each thread builds its own). */
export interface WorkerStages {
  /** The run's redaction patterns (the built-in PASSWORD rule always applies). */
  redact: RedactPatterns;
  /** The run's transforms, in order. */
  transforms: TransformSpec[];
  /** Bytes per piece of staged rows, the writer's own (`LakeWriter.encodePieceBytes`), so files roll where they would on the writing thread. */
  encodePieceBytes: number;
}

/** A request to a parse worker. */
export interface PieceRequest {
  id: number;
  job: PieceJob;
  /** Send the event objects back too (a stage observes them). */
  keepEvents: boolean;
  stages: WorkerStages;
}

/** A parse worker's answer. */
export type PieceReply = { id: number; result: PieceResult } | { id: number; error: string };

/** A view that owns its whole buffer can be transferred; one sharing a pooled buffer is copied first. */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

/** The stages built from the last spec seen (a run sends the same spec with every piece). */
let built: { key: string; redactor: SqlRedactor; transforms: BatchTransform[] } | null = null;

async function stagesOf(spec: WorkerStages): Promise<{ redactor: SqlRedactor; transforms: BatchTransform[] }> {
  const key = JSON.stringify(spec);
  if (built?.key === key) return built;
  // The policies' code is loaded only by a run that has policies.
  const transforms =
    spec.transforms.length === 0
      ? []
      : await import('./policies-stage.js').then(({ transformFromSpec }) => spec.transforms.map(transformFromSpec));
  built = { key, redactor: createSqlRedactor(spec.redact), transforms };
  return built;
}

async function handle(request: PieceRequest): Promise<{ reply: PieceReply; transfer: ArrayBuffer[] }> {
  const parser = PIECE_PARSERS[request.job.format];
  if (!parser) return { reply: { id: request.id, error: `no piece parser for format ${request.job.format}` }, transfer: [] };
  const { redactor, transforms } = await stagesOf(request.stages);
  const transfer: ArrayBuffer[] = [];
  // Each batch as it fills, in the writing thread's order: redaction, the transforms, encoding (`ingest.ts`).
  const finish = (batch: Batch): Batch => {
    redactBatch(batch, redactor);
    for (const transform of transforms) transform(batch);
    const encoded = encodeEvents(batch.events, request.stages.encodePieceBytes);
    for (const part of encoded.parts) {
      part.bytes = ownBuffer(part.bytes);
      transfer.push(part.bytes.buffer as ArrayBuffer);
    }
    batch.encoded = encoded;
    if (!request.keepEvents) batch.events = [];
    return batch;
  };
  const result = parser.parse(request.job, finish);
  return { reply: { id: request.id, result }, transfer };
}

parentPort?.on('message', async (request: PieceRequest) => {
  let answer: { reply: PieceReply; transfer: ArrayBuffer[] };
  try {
    answer = await handle(request);
  } catch (e) {
    answer = { reply: { id: request.id, error: (e as Error).stack ?? String(e) }, transfer: [] };
  }
  parentPort?.postMessage(answer.reply, answer.transfer);
});
