import type { LakeWriter } from '../lake/lake-writer.js';
import { createSqlRedactor, redactBatch, type SqlRedactor } from '../redact/index.js';
import { type Batch, idKey, type Source } from '../schema/index.js';
import type { BatchObserver, StreamMark } from './ingest.js';
import { countAlreadyStored, countOutcomes, countOversized, noOutcomeCounts, type OutcomeCounts } from './stats.js';
import { writeUnit } from './unit-stage.js';

/**
 * Writes a source that does not end (the proxy, a followed Kinesis stream) in units: batches are
 * gathered until a unit holds `flushEvents` events or is `flushMs` old, then the unit is written
 * through the unit stage (`unit-stage.ts`) and committed before the next starts, with its checkpoint
 * in the same commit: a crash before the commit leaves nothing of the unit visible and the checkpoint
 * where it was, so the replay writes it once; after the commit, neither the unit nor its position is
 * read again.
 */

/**
 * A batch and, optionally, how far into the source it reaches (committed once durable) and which of the
 * source's event-time streams it belongs to (given to the observers). An item with a stream `state`, no
 * records and no position only tells the observers of the stream (e.g. a shard is idle); it is not written.
 */
export interface StreamItem<P> {
  batch: Batch;
  position?: P;
  stream?: StreamMark;
}

/** Options of {@link writeStream}. */
export interface StreamOptions<P> {
  source: Source;
  /** Names the unit in manifests and quarantine lines, e.g. `proxy:<instance>`. */
  name: string;
  flushEvents: number;
  flushMs: number;
  observers: BatchObserver[];
  /** The checkpoint object for a position, committed atomically with the unit that reaches it. */
  checkpoint?: (position: P) => { key: string; body: string };
  /** Called after a unit is committed, with the position it reaches. */
  commit?: (position: P) => Promise<void>;
  /** Combines the positions of a unit's batches (e.g. per-shard maps); default: the last one wins. */
  mergePosition?: (earlier: P, later: P) => P;
  /** Called after each unit is durable, with its key (e.g. to write the alerts it raised). */
  afterUnit?: (unitKey: string) => Promise<void>;
  /** The redaction stage's statement redactor; default: the built-in PASSWORD rule only. */
  redactor?: SqlRedactor;
  /** Called after each unit with its counts. */
  onUnit?: (unit: { name: string; events: number; quarantined: number; files: number }) => void;
}

/** Totals of a stream run. */
export interface StreamTotals extends OutcomeCounts {
  units: number;
  records: number;
  events: number;
  quarantined: number;
  /** Skipped on purpose, by reason (they add up to `event_counts.skipped`). */
  skipped: Record<string, number>;
  alerts: number;
  /** Events delivered more than once (same event id, e.g. a Kinesis record re-sent): stored once. */
  duplicate_events: number;
}

/** Consumes `items` until it ends, writing units to the lake. */
export async function writeStream<P>(
  items: AsyncIterable<StreamItem<P>>,
  lake: LakeWriter,
  options: StreamOptions<P>,
): Promise<StreamTotals> {
  const totals: StreamTotals = {
    units: 0,
    records: 0,
    events: 0,
    quarantined: 0,
    skipped: {},
    alerts: 0,
    duplicate_events: 0,
    ...noOutcomeCounts(),
  };
  const iterator = items[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<StreamItem<P>>> | null = null;
  let unit: Batch[] = [];
  let unitEvents = 0;
  let unitStarted = 0;
  let position: P | undefined;
  // Event ids of the open unit: a record delivered twice within one unit is dropped here; one stored by an
  // earlier unit is taken out when the unit commits (`stored-once.ts`). Bounded by the unit's size.
  let unitIds = new Set<string>();
  const redactor = options.redactor ?? createSqlRedactor();

  const flush = async () => {
    if (unit.length === 0) return;
    // Named by where its first record was read (shard and sequence number, proxy session and message):
    // event ids no longer tell deliveries apart (a re-sent record keeps its id), positions do.
    const first = unit.find((b) => b.events.length > 0)?.events[0]?.source_ref ?? unit[0].rejected[0]?.source_ref ?? String(unitStarted);
    const name = `${options.name}#${first}`;
    const unitKey = idKey(options.source, options.name, first);
    const reached = position;
    const { manifest, duplicates, oversized } = await writeUnit(lake, {
      source: options.source,
      name,
      kind: 'stream',
      batches: unit,
      key: () => unitKey,
      state: () => (reached !== undefined && options.checkpoint ? options.checkpoint(reached) : null),
    });
    totals.units++;
    // Events an earlier unit already stored were counted when read: they are duplicates, not events written.
    for (const n of Object.values(duplicates)) {
      totals.duplicate_events += n;
      totals.events -= n;
      countAlreadyStored(totals, n);
    }
    // So were events too large to store: they are in the quarantine.
    for (const n of Object.values(oversized)) {
      totals.events -= n;
      totals.quarantined += n;
      countOversized(totals, n);
    }
    if (manifest) options.onUnit?.({ name, events: manifest.events, quarantined: manifest.quarantined, files: manifest.files.length });
    await options.afterUnit?.(unitKey);
    if (reached !== undefined && options.commit) await options.commit(reached);
    position = undefined;
    unit = [];
    unitIds = new Set();
    unitEvents = 0;
  };

  try {
    for (;;) {
      pending ??= iterator.next();
      const wait = unit.length === 0 ? null : Math.max(0, unitStarted + options.flushMs - Date.now());
      const next =
        wait === null ? await pending : await Promise.race([pending, new Promise<'tick'>((r) => setTimeout(r, wait, 'tick').unref())]);
      if (next === 'tick') {
        await flush();
        continue;
      }
      pending = null;
      if (next.done) break;
      const mark = next.value.stream;
      if (mark?.state && next.value.position === undefined && isEmpty(next.value.batch)) {
        for (const observe of options.observers) totals.alerts += await observe(next.value.batch, undefined, mark);
        continue;
      }
      // Secrets never pass this point (the proxy redacts before it queues; other streams are redacted here).
      const batch = dropRepeated(redactBatch(next.value.batch, redactor), unitIds);
      totals.duplicate_events += batch.repeated;
      // Read, and already in the open unit: skipped, as are those an earlier unit stored.
      totals.event_counts.read += batch.repeated;
      totals.event_counts.written += batch.repeated;
      countAlreadyStored(totals, batch.repeated);
      const reached = next.value.position;
      if (reached !== undefined)
        position = position !== undefined && options.mergePosition ? options.mergePosition(position, reached) : reached;
      if (unit.length === 0) unitStarted = Date.now();
      totals.records += batch.records;
      totals.events += batch.events.length;
      totals.quarantined += batch.rejected.length;
      for (const [reason, n] of Object.entries(batch.skipped)) totals.skipped[reason] = (totals.skipped[reason] ?? 0) + n;
      countOutcomes(totals, batch);
      for (const observe of options.observers) totals.alerts += await observe(batch, undefined, mark);
      unit.push(batch);
      unitEvents += batch.events.length;
      if (unitEvents >= options.flushEvents || Date.now() - unitStarted >= options.flushMs) await flush();
    }
    await flush();
  } catch (e) {
    // Tell the source to stop (a generator runs its cleanup) without waiting for a read it may never finish.
    void iterator.return?.()?.catch(() => {});
    throw e;
  }
  return totals;
}

function isEmpty(batch: Batch): boolean {
  return batch.records === 0 && batch.events.length === 0 && batch.rejected.length === 0;
}

/** Drops events whose id the unit already holds, noting the new ids; returns the batch and how many it dropped. */
function dropRepeated(batch: Batch, ids: Set<string>): Batch & { repeated: number } {
  const before = batch.events.length;
  const events = batch.events.filter((e) => {
    if (ids.has(e.event_id)) return false;
    ids.add(e.event_id);
    return true;
  });
  return { ...batch, events, repeated: before - events.length };
}
