import { type Batch, batchEventCount, recordOutcomesOf, type Source } from '../schema/index.js';
import type { RulesReport } from './rules-stage.js';

/**
 * What became of what was read, in one unit (records or events): `written + quarantined + skipped = read`.
 * Records and events differ where one record holds several events (a DAS record holds a list of activity
 * events, heartbeats among them). At the event level a record quarantined whole counts as one (its events
 * cannot be read), and so does a record skipped whole (a server log line).
 */
export interface Outcomes {
  read: number;
  written: number;
  quarantined: number;
  skipped: number;
}

/** Zero counts. */
export function noOutcomes(): Outcomes {
  return { read: 0, written: 0, quarantined: 0, skipped: 0 };
}

function addOutcomes(into: Outcomes, add: Outcomes): void {
  into.read += add.read;
  into.written += add.written;
  into.quarantined += add.quarantined;
  into.skipped += add.skipped;
}

/** What happened to one input. */
export interface InputStats {
  input: string;
  format: string | null;
  /** Records read (= `record_counts.read`). */
  records: number;
  /** Events written (= `event_counts.written`). */
  events: number;
  /** Events (and records rejected whole) quarantined (= `event_counts.quarantined`). */
  quarantined: number;
  /** Events (and records) skipped on purpose, by reason; they add up to `event_counts.skipped`. */
  skipped: Record<string, number>;
  /** Records read, and how many gave written events, were quarantined or were skipped. */
  record_counts: Outcomes;
  /** Events read, and how many were written, quarantined or skipped. */
  event_counts: Outcomes;
  files: number;
  /** Why the input could not be read at all, when it could not. */
  error: string | null;
  /** Hex SHA-256 of the input's whole decompressed content (its identity), once read. */
  content_sha256?: string | null;
  /** The input had no bytes at all (counted, not an error). */
  empty?: boolean;
  /** The input's content equals an input already ingested in this run (named here): stored once. */
  same_content_as?: string;
  /** Events not stored because another input already stored the same record (same event id). */
  duplicates?: number;
  /** The run was stopped (SIGINT/SIGTERM) while this input was read: nothing of it was committed. */
  interrupted?: boolean;
}

/** The whole run, as printed by `auditlake ingest` (and as one JSON object with `--json`). */
export interface RunSummary {
  inputs: InputStats[];
  /** Records read (= `record_counts.read`). */
  records: number;
  /** Events written (= `event_counts.written`). */
  events: number;
  /** Events by source and event class. */
  events_by_source: Record<string, Record<string, number>>;
  /** Events (and records rejected whole) quarantined (= `event_counts.quarantined`). */
  quarantined: number;
  /** Skipped on purpose, by reason (they add up to `event_counts.skipped`). */
  skipped: Record<string, number>;
  /** Records: read = written (gave at least one written event) + quarantined + skipped. */
  record_counts: Outcomes;
  /** Events: read = written + quarantined + skipped. */
  event_counts: Outcomes;
  files_written: number;
  failed_inputs: number;
  alerts: number;
  duration_ms: number;
  /** S3 objects skipped because an earlier run ingested them unchanged (runs with S3 inputs only). */
  already_ingested?: number;
  /** Inputs with no bytes. */
  empty_inputs: number;
  /** Events another input had already stored (same record, same event id): stored once, not counted in `events`. */
  duplicate_events: number;
  /** Inputs whose content repeats an earlier input of the run (stored once). */
  same_content_inputs: number;
  /** The signal that stopped the run early, if one did. */
  stopped_by?: string;
  /** Late events and the catch-up pass (runs with rules only). */
  rules?: RulesReport;
}

/** A fresh per-input record. */
export function newInputStats(input: string): InputStats {
  return {
    input,
    format: null,
    records: 0,
    events: 0,
    quarantined: 0,
    skipped: {},
    record_counts: noOutcomes(),
    event_counts: noOutcomes(),
    files: 0,
    error: null,
  };
}

/** Where records and events went: what every summary (a run, an input, a stream, a Lambda batch) holds. */
export interface OutcomeCounts {
  /** Records read, and how many gave written events, were quarantined or were skipped. */
  record_counts: Outcomes;
  /** Events read, and how many were written, quarantined or skipped. */
  event_counts: Outcomes;
}

/** Zero outcome counts. */
export function noOutcomeCounts(): OutcomeCounts {
  return { record_counts: noOutcomes(), event_counts: noOutcomes() };
}

/** Adds a batch's record and event outcomes to `into`. */
export function countOutcomes(into: OutcomeCounts, batch: Batch): void {
  const events = batchEventCount(batch);
  let skipped = 0;
  for (const n of Object.values(batch.skipped)) skipped += n;
  addOutcomes(into.record_counts, { read: batch.records, ...recordOutcomesOf(batch) });
  addOutcomes(into.event_counts, {
    read: events + batch.rejected.length + skipped,
    written: events,
    quarantined: batch.rejected.length,
    skipped,
  });
}

/** Why an event read is not written when the same record (same event id) is already in the lake. */
export const SKIP_ALREADY_STORED = 'already stored (the same record, read before)';

/** Counts and skipped reasons that the two corrections below keep adding up. */
type Correctable = OutcomeCounts & { skipped: Record<string, number> };

/**
 * `n` events counted as written turned out to be in the lake already (another input or unit stored the
 * same record): they are skipped on purpose, under {@link SKIP_ALREADY_STORED}.
 */
export function countAlreadyStored(into: Correctable, n: number): void {
  if (n <= 0) return;
  into.event_counts.written -= n;
  into.event_counts.skipped += n;
  into.skipped[SKIP_ALREADY_STORED] = (into.skipped[SKIP_ALREADY_STORED] ?? 0) + n;
}

/** `n` events counted as written were too large to store and went to the quarantine instead. */
export function countOversized(into: Correctable, n: number): void {
  into.event_counts.written -= n;
  into.event_counts.quarantined += n;
}

/** Adds a batch's counts to an input's. */
export function countBatch(stats: InputStats, batch: Batch, bySource: Record<string, Record<string, number>>): void {
  for (const [reason, n] of Object.entries(batch.skipped)) stats.skipped[reason] = (stats.skipped[reason] ?? 0) + n;
  stats.records += batch.records;
  stats.events += batchEventCount(batch);
  stats.quarantined += batch.rejected.length;
  countOutcomes(stats, batch);
  if (batch.encoded) {
    // Encoded on a worker: the events may not have crossed, their counts did.
    for (const [source, classes] of Object.entries(batch.encoded.classes)) {
      bySource[source] ??= {};
      for (const [c, n] of Object.entries(classes)) bySource[source][c] = (bySource[source][c] ?? 0) + n;
    }
    return;
  }
  for (const e of batch.events) {
    bySource[e.source as Source] ??= {};
    const classes = bySource[e.source as Source];
    classes[e.event_class] = (classes[e.event_class] ?? 0) + 1;
  }
}

/** Totals over the inputs. */
export function summarize(inputs: InputStats[], bySource: Record<string, Record<string, number>>, started: number, alerts = 0): RunSummary {
  const skipped: Record<string, number> = {};
  const recordCounts = noOutcomes();
  const eventCounts = noOutcomes();
  for (const i of inputs) {
    for (const [r, n] of Object.entries(i.skipped)) skipped[r] = (skipped[r] ?? 0) + n;
    addOutcomes(recordCounts, i.record_counts);
    addOutcomes(eventCounts, i.event_counts);
  }
  return {
    inputs,
    records: inputs.reduce((n, i) => n + i.records, 0),
    events: inputs.reduce((n, i) => n + i.events, 0),
    events_by_source: bySource,
    quarantined: inputs.reduce((n, i) => n + i.quarantined, 0),
    skipped,
    record_counts: recordCounts,
    event_counts: eventCounts,
    files_written: inputs.reduce((n, i) => n + i.files, 0),
    failed_inputs: inputs.filter((i) => i.error !== null).length,
    empty_inputs: inputs.filter((i) => i.empty).length,
    duplicate_events: inputs.reduce((n, i) => n + (i.duplicates ?? 0), 0),
    same_content_inputs: inputs.filter((i) => i.same_content_as !== undefined).length,
    alerts,
    duration_ms: Math.round(performance.now() - started),
  };
}
