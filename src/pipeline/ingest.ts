import type { Collector, CollectorContext, PieceParser } from '../collectors/contract.js';
import { collectorForFormat, detectFormat } from '../collectors/registry.js';
import type { LakeWriter } from '../lake/lake-writer.js';
import { createSqlRedactor, redactBatch, type SqlRedactor, scrubRaw } from '../redact/index.js';
import { type Batch, idKey, nowMicros, rejected } from '../schema/index.js';
import { type OpenedInput, openFile } from './open-input.js';
import { defaultParseWorkers, ParsePool } from './parse-pool.js';
import type { WorkerStages } from './parse-worker.js';
import { PIECE_BYTES, pieceBatches } from './pieces.js';
import type { BatchTransform, TransformSpec } from './policies-stage.js';
import { countAlreadyStored, countBatch, countOversized, type InputStats, newInputStats, type RunSummary, summarize } from './stats.js';
import { writeUnit } from './unit-stage.js';

/**
 * One event-time stream of a source that does not end (a Kinesis shard, a proxy instance), read
 * interleaved with the others, and what an item says about it: `open` (started, nothing read yet: it
 * holds event time back until it shows events), `idle` (at its tip with nothing new: it holds nothing
 * back until it shows events again) or `ended` (read to its end). Absent for a batch of records.
 */
export interface StreamMark {
  key: string;
  state?: 'open' | 'idle' | 'ended';
}

/**
 * Something that sees every batch before it is written (the rules engine), with the name of its input
 * (inputs read one after the other) or its stream (streams read interleaved). Returns how many alerts it raised.
 */
export type BatchObserver = ((batch: Batch, input?: string, stream?: StreamMark) => Promise<number> | number) & {
  /**
   * True when the observer reads only what a batch encoded on a parse worker carries without its events
   * (`encoded`: rows by partition date, counts by class); otherwise such batches carry their events back too.
   */
  encodedSuffices?: boolean;
};

/** Options of an ingest run. */
export interface IngestOptions {
  /** `auto`, or a format a collector reads. */
  format: string;
  batchSize: number;
  /** Options for collectors, by collector kind (e.g. `{ das: { resourceId } }`); each validates its own. */
  collectorOptions: Record<string, Record<string, unknown>>;
  observers: BatchObserver[];
  /** Stages that may change a batch before it is counted, observed and written (policies: tag, select). */
  transforms?: BatchTransform[];
  /** Called as inputs are read, for progress display. */
  onProgress?: (input: OpenedInput, stats: InputStats) => void;
  /** Called after observers have seen everything, before the summary (flush windowed rules). */
  onEnd?: () => Promise<number> | number;
  /** Aborted to stop the run (SIGINT/SIGTERM): the input being read is rolled back, later ones are not read. */
  signal?: AbortSignal;
  /** Unit keys committed in this run, with the input that had them (an identical copy is counted once). */
  seen?: Map<string, string>;
  /**
   * Parse worker threads for formats that can be read in pieces (csvlog): `ingestFiles` starts them for
   * its run; 0 parses on this thread. Default: {@link defaultParseWorkers}.
   */
  workers?: number;
  /** Parse workers to use (`ingestFiles` sets it from `workers`); without it, inputs parse on this thread. */
  pool?: ParsePool;
  /** Bytes per piece for parse workers; default {@link PIECE_BYTES} (tests cut small inputs into many pieces). */
  pieceBytes?: number;
  /** The redaction stage's statement redactor (built-in PASSWORD rule plus configured patterns); default: built-in only. */
  redactor?: SqlRedactor;
}

/** The redactor of a run that configures no extra patterns. */
const BUILT_IN_REDACTOR = createSqlRedactor();

// Events cross each stage boundary in batches small enough that the batch being filled is all a young
// collection finds alive: what outlives one is copied, then promoted. On a real server's 241 MB csvlog,
// 2048 left half of what each scavenge saw alive and garbage collection a fifth of the main thread; 256
// took 0.8x the wall time and CPU of 2048 (128 the same as 256, 64 slower: per-batch costs take over).
export const DEFAULT_BATCH_SIZE = 256;

function pickCollector(input: OpenedInput, format: string): { collector: Collector; format: string } | string {
  if (format !== 'auto') {
    const collector = collectorForFormat(format);
    return collector ? { collector, format } : `unknown format ${format}`;
  }
  return (
    detectFormat(input.head) ?? 'format not recognized (not csvlog, jsonlog, RDS stderr, CloudWatch, DAS or proxy events); pass --format'
  );
}

/** Thrown inside a unit when the run is asked to stop (SIGINT/SIGTERM): the unit is rolled back. */
export class StopRequested extends Error {
  constructor(readonly signal: string) {
    super(`stopped by ${signal}`);
  }
}

/**
 * Whether an input is parsed on the run's parse workers, and how. A worker encodes the events it parsed,
 * so every stage that changes events must run there first: redaction (the run's redactor, rebuilt in the
 * worker from its patterns) and each transform, rebuilt from its `spec`. A run with a transform that has
 * no spec (a closure), or with the appender writer (it takes events, not encoded rows), parses on this
 * thread instead: the simplest way to keep one order of stages and no unredacted text in an encoded
 * row. Observers that need the events (the rules engine) get them back from the worker, already
 * redacted and transformed; observers that read only the encoded form (`encodedSuffices`) spare the copy.
 */
function workerPlan(
  collector: Collector,
  format: string,
  lake: LakeWriter,
  options: IngestOptions,
): { parser: PieceParser; stages: WorkerStages; keepEvents: boolean } | null {
  const parser = collector.pieces?.[format];
  if (!options.pool || !parser || lake.appendConnection) return null;
  const transforms: TransformSpec[] = [];
  for (const transform of options.transforms ?? []) {
    if (!transform.spec) return null;
    transforms.push(transform.spec);
  }
  const redactor = options.redactor ?? BUILT_IN_REDACTOR;
  return {
    parser,
    stages: { redact: redactor.patterns, transforms, encodePieceBytes: lake.encodePieceBytes },
    keepEvents: options.observers.some((observe) => !observe.encodedSuffices),
  };
}

/** Reads every byte of an input (so its content hash is complete) without parsing it. */
async function drain(input: OpenedInput): Promise<void> {
  for await (const _ of input.bytes);
}

/** The unit key of a file input: its whole content's hash. */
export function contentKey(sha256: string): string {
  return idKey('content', sha256);
}

/** Reads one opened input through its collector and the observers into the lake, as one unit. */
export async function ingestInput(
  input: OpenedInput,
  lake: LakeWriter,
  options: IngestOptions,
  bySource: Record<string, Record<string, number>>,
): Promise<{ stats: InputStats; alerts: number }> {
  const stats = newInputStats(input.name);
  let alerts = 0;
  if (input.head === '' && !input.failure) {
    await drain(input);
    if (input.contentBytes() === 0) {
      // A freshly rotated log: nothing to read is not an error.
      stats.empty = true;
      return { stats, alerts };
    }
  }
  const picked = pickCollector(input, options.format);
  if (typeof picked === 'string') {
    // Nothing of it can be read: the input is quarantined whole (its head, for a person to look at).
    await drain(input);
    stats.error = picked;
    const whole: Batch = {
      events: [],
      rejected: [rejected(input.name, picked, scrubRaw(input.head.slice(0, 4096)))],
      skipped: {},
      records: 1,
    };
    countBatch(stats, whole, {});
    const result = await writeUnit(lake, {
      source: 'unknown',
      name: input.name,
      kind: 'ingest',
      batches: [whole],
      key: () => contentKey(input.contentSha256()),
      contentSha256: () => input.contentSha256(),
    });
    stats.content_sha256 = result.manifest?.content_sha256 ?? null;
    return { stats, alerts };
  }
  stats.format = picked.format;
  const ctx: CollectorContext = {
    ingestTime: nowMicros(),
    batchSize: options.batchSize,
    options: options.collectorOptions[picked.collector.kind] ?? {},
  };
  // Counted per input and added to the run's only once the input is durable.
  const counted: Record<string, Record<string, number>> = {};
  const transforms = options.transforms ?? [];
  const redactor = options.redactor ?? BUILT_IN_REDACTOR;
  const onWorkers = workerPlan(picked.collector, picked.format, lake, options);
  const collected =
    onWorkers && options.pool
      ? pieceBatches(
          input,
          picked.format,
          ctx,
          onWorkers.parser,
          options.pool,
          onWorkers.keepEvents,
          onWorkers.stages,
          options.pieceBytes ?? PIECE_BYTES,
        )
      : picked.collector.collect(input, picked.format, ctx);
  async function* batches(): AsyncIterable<Batch> {
    for await (const read of collected) {
      if (options.signal?.aborted) throw new StopRequested(String(options.signal.reason ?? 'signal'));
      if (onWorkers) {
        // Redacted and transformed on the worker, before it was encoded there.
        yield read;
        continue;
      }
      // Secrets never pass this point: rules, alerts, the lake and the quarantine see redacted text only.
      const batch = redactBatch(read, redactor);
      for (const transform of transforms) transform(batch);
      yield batch;
    }
    if (input.failure) {
      // The bytes after the failure are lost to this run; say where, so the input can be fetched again.
      yield {
        events: [],
        rejected: [rejected(`${input.name}@${input.failure.offset}`, `input ends early: ${input.failure.message}`, '')],
        skipped: {},
        records: 1,
      };
    }
  }
  let duplicateOf: string | undefined;
  try {
    const result = await writeUnit(lake, {
      source: picked.collector.kind,
      name: input.name,
      kind: 'ingest',
      batches: batches(),
      onBatch: async (batch) => {
        countBatch(stats, batch, counted);
        for (const observe of options.observers) alerts += await observe(batch, input.name);
        options.onProgress?.(input, stats);
      },
      key: () => contentKey(input.contentSha256()),
      contentSha256: () => input.contentSha256(),
      shouldCommit: (key) => {
        duplicateOf = options.seen?.get(key);
        if (duplicateOf !== undefined) return false;
        options.seen?.set(key, input.name);
        return true;
      },
    });
    stats.content_sha256 = input.contentSha256();
    if (duplicateOf !== undefined) {
      // The same bytes under another name, already ingested in this run: stored once, counted once.
      const same = newInputStats(input.name);
      same.format = picked.format;
      same.same_content_as = duplicateOf;
      same.content_sha256 = input.contentSha256();
      return { stats: same, alerts };
    }
    // An event too large to store was counted as an event while read; it is in the quarantine. An event
    // another input already stored was counted too; it is stored once, and counted as a duplicate.
    const source = picked.collector.kind;
    const uncount = (byClass: Record<string, number>) => {
      let total = 0;
      for (const [cls, n] of Object.entries(byClass)) {
        total += n;
        if (counted[source]?.[cls] !== undefined) counted[source][cls] -= n;
      }
      stats.events -= total;
      return total;
    };
    const oversized = uncount(result.oversized);
    stats.quarantined += oversized;
    countOversized(stats, oversized);
    const duplicates = uncount(result.duplicates);
    if (duplicates > 0) stats.duplicates = duplicates;
    countAlreadyStored(stats, duplicates);
    stats.files = result.manifest?.files.length ?? 0;
  } catch (e) {
    // Nothing of this input reaches the lake; the run goes on with the next one and exits non-zero.
    const failed = newInputStats(input.name);
    failed.format = picked.format;
    failed.error = (e as Error).message;
    if (e instanceof StopRequested) failed.interrupted = true;
    return { stats: failed, alerts };
  }
  for (const [source, classes] of Object.entries(counted)) {
    bySource[source] ??= {};
    for (const [c, n] of Object.entries(classes)) if (n > 0) bySource[source][c] = (bySource[source][c] ?? 0) + n;
  }
  return { stats, alerts };
}

/** What an input set (e.g. an S3 prefix) ingested. */
export interface InputSetResult {
  inputs: InputStats[];
  alerts: number;
  /** Inputs skipped because an earlier run ingested them unchanged. */
  alreadyIngested: number;
}

/** Inputs other than local files, e.g. the objects under an S3 prefix (`s3-inputs.ts`); each reads its inputs through `ingestInput`. */
export interface InputSet {
  name: string;
  ingest(lake: LakeWriter, options: IngestOptions, bySource: Record<string, Record<string, number>>): Promise<InputSetResult>;
}

/** Ingests local files (or `-` for standard input is not supported: logs are files), then any input sets. */
export async function ingestFiles(paths: string[], lake: LakeWriter, options: IngestOptions, sets: InputSet[] = []): Promise<RunSummary> {
  const started = performance.now();
  const workers = options.workers ?? defaultParseWorkers();
  const pool = options.pool ?? (workers > 0 ? new ParsePool(workers) : undefined);
  try {
    return await ingestAll(paths, lake, { ...options, pool }, sets, started);
  } finally {
    if (pool && !options.pool) await pool.close();
  }
}

async function ingestAll(
  paths: string[],
  lake: LakeWriter,
  options: IngestOptions,
  sets: InputSet[],
  started: number,
): Promise<RunSummary> {
  const inputs: InputStats[] = [];
  const bySource: Record<string, Record<string, number>> = {};
  let alerts = 0;
  options = { ...options, seen: options.seen ?? new Map() };
  for (const path of paths) {
    if (options.signal?.aborted) break;
    let input: OpenedInput;
    try {
      input = await openFile(path);
    } catch (e) {
      const stats = newInputStats(path);
      stats.error = (e as Error).message;
      inputs.push(stats);
      continue;
    }
    const result = await ingestInput(input, lake, options, bySource);
    inputs.push(result.stats);
    alerts += result.alerts;
  }
  let alreadyIngested = 0;
  for (const set of sets) {
    if (options.signal?.aborted) break;
    const result = await set.ingest(lake, options, bySource);
    inputs.push(...result.inputs);
    alerts += result.alerts;
    alreadyIngested += result.alreadyIngested;
  }
  if (options.onEnd) alerts += await options.onEnd();
  const summary = summarize(inputs, bySource, started, alerts);
  if (options.signal?.aborted) summary.stopped_by = String(options.signal.reason);
  return sets.length > 0 ? { ...summary, already_ingested: alreadyIngested } : summary;
}
