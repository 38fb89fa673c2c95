/**
 * The DAS collector: reads files of Aurora Database Activity Streams records, either JSON Lines (one Kinesis
 * record's data, the envelope, per line) or an AWS Lambda Kinesis event, and decrypts them into batches.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { type Batch, idKey, mergeBatch, newBatch, rejected } from '../../schema/index.js';
import type { Collector, CollectorContext, CollectorInput } from '../contract.js';
import { DataKeyCache } from './data-key-cache.js';
import { type CachedKey, createDasDecoder, type DasDecoder, type DasUnit } from './decoder.js';
import { ENVELOPE_TYPE } from './envelope.js';
import { kinesisEventUnits, looksLikeKinesisEvent } from './kinesis-event.js';
import { readLines } from './lines.js';
import { filtersOf, parseDasOptions } from './options.js';

/**
 * Records decoded per step; batches are cut after a step once they hold `batchSize` events. A DAS record holds
 * one to many events, so a step of `batchSize` records fills at least one batch; capped to bound memory, and
 * large enough that the decryption workers have a step's records to share.
 */
function recordsPerStep(batchSize: number): number {
  return Math.min(256, Math.max(1, batchSize));
}

/** Largest Lambda event file read whole (Lambda payloads are at most 6 MB). */
const MAX_EVENT_FILE_BYTES = 256 * 1024 * 1024;

/** One data-key cache per process, so data keys are decrypted once across every input of a run. */
const sharedCache = new DataKeyCache<CachedKey>();

/** What the collector needs besides its options; tests and the bench inject a KMS client. */
export interface DasCollectorDeps {
  kms?: KMSClient;
  cache?: DataKeyCache<CachedKey>;
}

async function* batchesOf(steps: AsyncIterable<DasUnit[] | Batch>, decoder: DasDecoder, ctx: CollectorContext): AsyncGenerator<Batch> {
  let batch = newBatch();
  for await (const step of steps) {
    mergeBatch(batch, Array.isArray(step) ? await decoder.decodeUnits(step, ctx.ingestTime) : step);
    if (batch.events.length >= ctx.batchSize) {
      yield batch;
      batch = newBatch();
    }
  }
  if (batch.records > 0) yield batch;
}

async function* jsonLinesSteps(input: CollectorInput, resourceId: string | null, step: number): AsyncGenerator<DasUnit[] | Batch> {
  let units: DasUnit[] = [];
  for await (const line of readLines(input.bytes)) {
    const ref = `${input.name}:${line.lineNo}`;
    if (line.tooLong !== undefined) {
      const piece = newBatch();
      piece.records = 1;
      piece.rejected.push(rejected(ref, `line of ${line.tooLong} bytes is longer than any Kinesis record`, line.text));
      if (units.length) yield units;
      units = [];
      yield piece;
      continue;
    }
    units.push({ data: line.text, key: idKey(input.key, line.lineNo), ref, resourceId });
    if (units.length >= step) {
      yield units;
      units = [];
    }
  }
  if (units.length) yield units;
}

async function* kinesisEventSteps(
  input: CollectorInput,
  first: Buffer[],
  step: number,
  resourceId?: string,
): AsyncGenerator<DasUnit[] | Batch> {
  const chunks = first;
  let size = chunks.reduce((n, c) => n + c.length, 0);
  for await (const chunk of input.bytes) {
    size += chunk.length;
    if (size > MAX_EVENT_FILE_BYTES) {
      const piece = newBatch();
      piece.records = 1;
      piece.rejected.push(rejected(input.name, `Lambda event file larger than ${MAX_EVENT_FILE_BYTES} bytes`, ''));
      yield piece;
      return;
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch (err) {
    const piece = newBatch();
    piece.records = 1;
    piece.rejected.push(rejected(input.name, `Lambda event is not JSON: ${(err as Error).message}`, text));
    yield piece;
    return;
  }
  const { units, rejected: bad } = kinesisEventUnits(event, input.name, resourceId);
  if (bad.length) {
    const piece = newBatch();
    piece.records = bad.length;
    piece.rejected.push(...bad);
    yield piece;
  }
  for (let i = 0; i < units.length; i += step) yield units.slice(i, i + step);
}

/** Reads the first chunks of an input until its first non-blank character is known. */
async function peek(bytes: AsyncIterable<Buffer>): Promise<{ head: string; chunks: Buffer[]; rest: AsyncIterator<Buffer> }> {
  const it = bytes[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let head = '';
  while (head.trim().length < 32 && head.length < 65536) {
    const next = await it.next();
    if (next.done) break;
    chunks.push(next.value);
    head += next.value.toString('utf8', 0, Math.min(next.value.length, 65536));
  }
  return { head, chunks, rest: it };
}

function replay(chunks: Buffer[], rest: AsyncIterator<Buffer>): AsyncIterable<Buffer> {
  return {
    async *[Symbol.asyncIterator]() {
      yield* chunks;
      for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
    },
  };
}

/** Builds the DAS collector with injected dependencies (KMS client, data-key cache). */
export function createDasCollector(deps: DasCollectorDeps = {}): Collector {
  return {
    kind: 'das',
    formats: ['das'],
    description:
      'Aurora Database Activity Streams records (JSON Lines of Kinesis record data, or a Lambda Kinesis event), decrypted with KMS',
    detect(head) {
      if (looksLikeKinesisEvent(head)) return 'das';
      const firstLine = head.slice(0, head.indexOf('\n') === -1 ? head.length : head.indexOf('\n'));
      return firstLine.trimStart().startsWith('{') && firstLine.includes(`"${ENVELOPE_TYPE}"`) ? 'das' : null;
    },
    async *collect(input, format, ctx) {
      if (format !== 'das') throw new Error(`das collector: unknown format ${format}`);
      const options = parseDasOptions(ctx.options);
      const decoder = createDasDecoder({
        kms: deps.kms,
        cache: deps.cache ?? sharedCache,
        concurrency: options.concurrency,
        filters: filtersOf(options),
      });
      const { head, chunks, rest } = await peek(input.bytes);
      if (looksLikeKinesisEvent(head)) {
        const whole = { ...input, bytes: replay([], rest) };
        yield* batchesOf(kinesisEventSteps(whole, chunks, recordsPerStep(ctx.batchSize), options.resourceId), decoder, ctx);
        return;
      }
      if (!options.resourceId && head.trim() !== '') {
        throw new Error(
          `das collector: ${input.name} is JSON Lines of DAS records; set the resourceId option (cluster-… or db-…) to decrypt them`,
        );
      }
      const lines = { ...input, bytes: replay(chunks, rest) };
      yield* batchesOf(jsonLinesSteps(lines, options.resourceId ?? null, recordsPerStep(ctx.batchSize)), decoder, ctx);
    },
  };
}

/** The DAS collector, using the default KMS client (from the environment) and a process-wide data-key cache. */
export const dasCollector: Collector = createDasCollector();
