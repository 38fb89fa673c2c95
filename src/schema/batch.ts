import type { AuditEvent } from './fields.js';

/**
 * The contract between a collector (or the proxy) and the pipeline.
 *
 * A collector is an async generator from raw input to {@link Batch}es. Every raw record it consumes is
 * accounted for in exactly one place: it became events, it was rejected (quarantined with a reason),
 * or it was skipped on purpose (counted under a reason, e.g. a heartbeat or a checkpoint log line).
 */

/** A raw record that could not be parsed or mapped. It goes to the quarantine, never through the pipeline. */
export interface Rejected {
  /** Where the record is (file:line, shard/sequence, ...). */
  source_ref: string;
  /** Why it was rejected, readable by a person. */
  reason: string;
  /** The raw record as text (binary input as base64), truncated to a bounded size. */
  raw: string;
}

/** A unit of work crossing a stage boundary: thousands of events, not one. */
export interface Batch {
  events: AuditEvent[];
  rejected: Rejected[];
  /** Records deliberately not written, by reason (e.g. `server log line`, `heartbeat`). */
  skipped: Record<string, number>;
  /** Raw records consumed to make this batch (lines, log records, Kinesis records, wire messages). */
  records: number;
  /**
   * How the records ended, for a collector whose records hold several events each (a DAS record holds a
   * list of activity events). Absent when every record is one event (or one rejection, or one skip):
   * then the records ended as their events did. See {@link recordOutcomesOf}.
   */
  recordOutcomes?: RecordOutcomes;
  /**
   * With {@link recordOutcomes}: for each record counted `written`, in order, how many of `events` it
   * gave (a record's events are consecutive). A stage that takes events out (the policies in `only`
   * mode) needs it to tell when it took out every event of a record, which then counts as skipped.
   * Absent: each event is a record of its own.
   */
  eventsPerRecord?: number[];
  /**
   * The batch's events already encoded for the lake, when they were parsed on a worker thread: the
   * worker encodes where the events are, and only these bytes cross to the writing thread. `events`
   * then holds the same events only if a stage asked for them (observers); a stage that changes events
   * must not run on a batch that carries this form, or its changes would not reach the lake.
   */
  encoded?: EncodedEvents;
}

/**
 * Where a batch's records went; the three add up to `records`. A record is `written` when at least one of
 * its events was, `quarantined` when it was rejected whole or every event in it was, and `skipped` when
 * it gave no event on purpose (a heartbeat-only record, a server log line).
 */
export interface RecordOutcomes {
  written: number;
  quarantined: number;
  skipped: number;
}

/** The record outcomes of a batch: its own, or, when every record is one event, its event counts. */
export function recordOutcomesOf(batch: Batch): RecordOutcomes {
  if (batch.recordOutcomes) return batch.recordOutcomes;
  let skipped = 0;
  for (const n of Object.values(batch.skipped)) skipped += n;
  return { written: batchEventCount(batch), quarantined: batch.rejected.length, skipped };
}

/** Marks a batch that holds exactly one record as that one record, however many events were in it. */
export function countAsOneRecord(piece: Batch): void {
  const events = batchEventCount(piece);
  if (events > 0) {
    piece.recordOutcomes = { written: 1, quarantined: 0, skipped: 0 };
    piece.eventsPerRecord = [events];
  } else if (piece.rejected.length > 0) piece.recordOutcomes = { written: 0, quarantined: 1, skipped: 0 };
  else piece.recordOutcomes = { written: 0, quarantined: 0, skipped: 1 };
}

/** How many events each written record of a batch gave (see {@link Batch.eventsPerRecord}). */
export function eventsPerRecordOf(batch: Batch): number[] {
  return batch.eventsPerRecord ?? new Array<number>(batch.events.length).fill(1);
}

/** Appends `piece` (events, rejections, skips, records and their outcomes) to `into`. */
export function mergeBatch(into: Batch, piece: Batch): void {
  const a = recordOutcomesOf(into);
  const b = recordOutcomesOf(piece);
  into.recordOutcomes = { written: a.written + b.written, quarantined: a.quarantined + b.quarantined, skipped: a.skipped + b.skipped };
  if (into.eventsPerRecord || piece.eventsPerRecord) into.eventsPerRecord = [...eventsPerRecordOf(into), ...eventsPerRecordOf(piece)];
  into.records += piece.records;
  for (const e of piece.events) into.events.push(e);
  for (const r of piece.rejected) into.rejected.push(r);
  for (const [reason, n] of Object.entries(piece.skipped)) into.skipped[reason] = (into.skipped[reason] ?? 0) + n;
}

/** Events as staged rows for the lake, by `event_date` partition (see `src/lake/staging-row.ts`). */
export interface EncodedEvents {
  /** Pieces of staged rows, each of one partition date (a date may have several pieces). */
  parts: { date: string; bytes: Uint8Array; rows: number }[];
  /** Events too large to stage, quarantined instead (they are not in `parts` nor counted in `events`), with their class. */
  oversized: (Rejected & { event_class: string })[];
  /** Events encoded, by source and event class (what the run summary counts). */
  classes: Record<string, Record<string, number>>;
}

/** Events in a batch, whether carried as objects or only in encoded form. */
export function batchEventCount(batch: Batch): number {
  if (!batch.encoded) return batch.events.length;
  let n = 0;
  for (const part of batch.encoded.parts) n += part.rows;
  return n + batch.encoded.oversized.length;
}

/** Largest raw text kept for one rejected log record by default; the rest is cut and says so. */
export const MAX_REJECTED_RAW = 64 * 1024;

/**
 * Raw text kept for a rejected record that can only be reprocessed whole: a Kinesis record is at most
 * 1 MiB, which is about 1.4 MB as base64.
 */
export const MAX_REJECTED_RECORD = 1_500_000;

/** A {@link Rejected} with its raw text bounded to `limit` characters. */
export function rejected(source_ref: string, reason: string, raw: string, limit = MAX_REJECTED_RAW): Rejected {
  const cut = raw.length > limit ? `${raw.slice(0, limit)}…[truncated ${raw.length - limit} chars]` : raw;
  return { source_ref, reason, raw: cut };
}

/** An empty batch to fill. */
export function newBatch(): Batch {
  return { events: [], rejected: [], skipped: {}, records: 0 };
}

/** Counts one skipped record under `reason`. */
export function skip(batch: Batch, reason: string, count = 1): void {
  batch.skipped[reason] = (batch.skipped[reason] ?? 0) + count;
}
