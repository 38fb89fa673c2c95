import type { Collector, CollectorContext } from '../collectors/contract.js';
import { collectorForFormat, detectFormat } from '../collectors/registry.js';
import type { LakeWriter } from '../lake/lake-writer.js';
import { createSqlRedactor, redactBatch, type SqlRedactor, scrubRaw } from '../redact/index.js';
import { type Batch, nowMicros, rejected, type Source } from '../schema/index.js';
import { type OpenedInput, openFile } from './open-input.js';
import { defaultParseWorkers, ParsePool } from './parse-pool.js';
import { pieceBatches } from './pieces.js';
import type { BatchTransform } from './policies-stage.js';
import { countBatch, type InputStats, newInputStats, type RunSummary, summarize } from './stats.js';

/**
 * Parse workers (`AUDITLAKE_PARSE_WORKERS`) encode batches for the lake before redaction and the policies stage
 * could change them, so they stay unused until those stages run in the workers too: one switch, so the path
 * can be measured and finished without secrets ever reaching an encoded row meanwhile.
 */
const REDACTION_IN_WORKERS = false;

/** Something that sees every batch before it is written (the rules engine), with the name of its input. Returns how many alerts it raised. */
export type BatchObserver = (batch: Batch, input?: string) => Promise<number> | number;

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
  /**
   * Parse worker threads for formats that can be read in pieces (csvlog): `ingestFiles` starts them for
   * its run; 0 parses on this thread. Default: {@link defaultParseWorkers}.
   */
  workers?: number;
  /** Parse workers to use (`ingestFiles` sets it from `workers`); without it, inputs parse on this thread. */
  pool?: ParsePool;
  /** The redaction stage's statement redactor (built-in PASSWORD rule plus configured patterns); default: built-in only. */
  redactor?: SqlRedactor;
}

/** The redactor of a run that configures no extra patterns. */
const BUILT_IN_REDACTOR = createSqlRedactor();

// Thousands of events cross each stage boundary; a few thousand, not more, so a batch dies young in the
// garbage collector instead of being promoted (measured: 8192 cost ~20% more time than 2048).
export const DEFAULT_BATCH_SIZE = 2048;

function pickCollector(input: OpenedInput, format: string): { collector: Collector; format: string } | string {
  if (format !== 'auto') {
    const collector = collectorForFormat(format);
    return collector ? { collector, format } : `unknown format ${format}`;
  }
  return (
    detectFormat(input.head) ?? 'format not recognized (not csvlog, jsonlog, RDS stderr, CloudWatch, DAS or proxy events); pass --format'
  );
}

/** The source partition a collector's events go to. */
function sourceOf(collector: Collector): Source {
  return collector.kind as Source;
}

/** Reads one opened input through its collector and the observers into the lake. */
export async function ingestInput(
  input: OpenedInput,
  lake: LakeWriter,
  options: IngestOptions,
  bySource: Record<string, Record<string, number>>,
): Promise<{ stats: InputStats; alerts: number }> {
  const stats = newInputStats(input.name);
  let alerts = 0;
  const picked = pickCollector(input, options.format);
  if (typeof picked === 'string') {
    // Nothing of it can be read: the input is quarantined whole (its head, for a person to look at).
    stats.error = picked;
    const whole: Batch = {
      events: [],
      rejected: [rejected(input.name, picked, scrubRaw(input.head.slice(0, 4096)))],
      skipped: {},
      records: 1,
    };
    countBatch(stats, whole, {});
    const writer = lake.input('unknown', input.key, input.name);
    await writer.write(whole);
    await writer.finish();
    return { stats, alerts };
  }
  stats.format = picked.format;
  const writer = lake.input(sourceOf(picked.collector), input.key, input.name);
  const ctx: CollectorContext = {
    ingestTime: nowMicros(),
    batchSize: options.batchSize,
    options: options.collectorOptions[picked.collector.kind] ?? {},
  };
  // Counted per input and added to the run's only once the input is durable.
  const counted: Record<string, Record<string, number>> = {};
  try {
    const transforms = options.transforms ?? [];
    const redactor = options.redactor ?? BUILT_IN_REDACTOR;
    // Parse workers hand back batches already encoded for the lake, past the point where redaction and the
    // policies stage change events; until those stages run in the workers too, every input is read on this
    // thread, so secrets never reach an encoded row.
    const pieces = options.pool && REDACTION_IN_WORKERS ? picked.collector.pieces?.[picked.format] : undefined;
    const batches =
      pieces && options.pool
        ? pieceBatches(input, picked.format, ctx, pieces, options.pool, options.observers.length > 0)
        : picked.collector.collect(input, picked.format, ctx);
    for await (const collected of batches) {
      // Secrets never pass this point: rules, alerts, the lake and the quarantine see redacted text only.
      const batch = redactBatch(collected, redactor);
      for (const transform of transforms) transform(batch);
      countBatch(stats, batch, counted);
      for (const observe of options.observers) alerts += await observe(batch, input.name);
      await writer.write(batch);
      options.onProgress?.(input, stats);
    }
    if (input.failure) {
      // The bytes after the failure are lost to this run; say where, so the input can be fetched again.
      const tail = {
        events: [],
        rejected: [rejected(`${input.name}@${input.failure.offset}`, `input ends early: ${input.failure.message}`, '')],
        skipped: {},
        records: 1,
      };
      countBatch(stats, tail, counted);
      await writer.write(tail);
    }
    const manifest = await writer.finish();
    stats.files = manifest.files.length;
  } catch (e) {
    // Nothing of this input reaches the lake; the run goes on with the next one and exits non-zero.
    await writer.abort();
    const failed = newInputStats(input.name);
    failed.format = picked.format;
    failed.error = (e as Error).message;
    return { stats: failed, alerts };
  }
  for (const [source, classes] of Object.entries(counted)) {
    bySource[source] ??= {};
    for (const [c, n] of Object.entries(classes)) bySource[source][c] = (bySource[source][c] ?? 0) + n;
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
  for (const path of paths) {
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
    const result = await set.ingest(lake, options, bySource);
    inputs.push(...result.inputs);
    alerts += result.alerts;
    alreadyIngested += result.alreadyIngested;
  }
  if (options.onEnd) alerts += await options.onEnd();
  const summary = summarize(inputs, bySource, started, alerts);
  return sets.length > 0 ? { ...summary, already_ingested: alreadyIngested } : summary;
}
