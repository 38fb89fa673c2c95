import { DasTransientError, type DasUnit, kinesisEventUnits } from '../collectors/das/index.js';
import { mapOrdered } from '../collectors/das/ordered.js';
import { countOutcomes, noOutcomeCounts, type OutcomeCounts } from '../pipeline/stats.js';
import { writeUnit as commitUnit } from '../pipeline/unit-stage.js';
import { type Batch, idKey, mergeBatch, newBatch, nowMicros, type Rejected } from '../schema/index.js';
import type { KinesisEventRecord, KinesisStreamEvent } from './events.js';
import type { Runtime } from './runtime.js';

/**
 * A Lambda Kinesis batch of DAS records into the lake. Records are decoded in order, per shard; the
 * decoded prefix of each shard (everything before the first record that failed transiently, i.e.
 * KMS unreachable after retries) is written as one lake unit and made durable before the handler
 * returns. The unit's key is the first record's stream, shard and sequence number, so a retry of the
 * same batch replaces its files. The failed record and every later record of its shard are returned
 * as batch item failures: Lambda resumes the shard from the lowest failed sequence number, so writing
 * those later records now would write them twice. Records that can never be decoded (bad envelope,
 * KMS refusal) are quarantined with their reason and acknowledged.
 */

/** What one invocation did. */
export interface KinesisBatchSummary extends OutcomeCounts {
  records: number;
  events: number;
  quarantined: number;
  skipped: Record<string, number>;
  units: number;
  files: number;
  alerts: number;
  /** Records left unacknowledged (returned as batch item failures). */
  failed_records: number;
  kms_calls: number;
  /** Why the first unacknowledged record of each shard failed. */
  failures: string[];
}

/** One record of the event: its shard and sequence number, and either its unit or why it is not a record. */
interface Item {
  shard: string;
  sequenceNumber: string | null;
  unit: DasUnit | null;
  rejected: Rejected | null;
}

/** Records decrypted at once within a shard. */
const CONCURRENCY = 8;

function itemOf(record: KinesisEventRecord, index: number, resourceId: string | undefined): Item {
  const { units, rejected } = kinesisEventUnits({ Records: [record] }, 'kinesis-event', resourceId);
  const eventId = typeof record?.eventID === 'string' ? record.eventID : '';
  const colon = eventId.indexOf(':');
  const sequence = record?.kinesis?.sequenceNumber;
  const item: Item = {
    shard: colon > 0 ? eventId.slice(0, colon) : 'unknown-shard',
    sequenceNumber: typeof sequence === 'string' && sequence !== '' ? sequence : null,
    unit: units[0] ?? null,
    rejected: rejected[0] ?? null,
  };
  // Name malformed entries by their position in this event, not in the one-record event built above.
  if (item.rejected?.source_ref.startsWith('kinesis-event#')) item.rejected.source_ref = `kinesis-event#Records[${index}]`;
  return item;
}

type Decoded = { ok: true; batch: Batch } | { ok: false; reason: string };

/** Decodes a shard's items in order, up to the first transient failure; returns the batch and where it stopped. */
async function decodeShard(items: Item[], rt: Runtime, ingestTime: number): Promise<{ batch: Batch; failedAt: number; reason: string }> {
  const batch = newBatch();
  const decode = async (item: Item): Promise<Decoded> => {
    if (!item.unit) {
      const piece = newBatch();
      piece.records = 1;
      if (item.rejected) piece.rejected.push(item.rejected);
      return { ok: true, batch: piece };
    }
    try {
      return { ok: true, batch: await rt.das.decodeUnits([item.unit], ingestTime) };
    } catch (e) {
      if (e instanceof DasTransientError) return { ok: false, reason: e.message };
      throw e;
    }
  };
  let index = 0;
  for await (const decoded of mapOrdered(items, CONCURRENCY, decode)) {
    if (!decoded.ok) return { batch, failedAt: index, reason: decoded.reason };
    mergeBatch(batch, decoded.batch);
    index++;
  }
  return { batch, failedAt: -1, reason: '' };
}

/** Writes a shard's decoded records as one unit, with the alerts they raise; returns files and alerts. */
async function writeShardUnit(rt: Runtime, first: DasUnit | null, items: Item[], batch: Batch): Promise<{ files: number; alerts: number }> {
  const head = items[0];
  const unitKey = first?.key ?? idKey('das', 'kinesis-event', head.shard, head.sequenceNumber ?? '');
  const name = first ? `lambda:${first.ref}` : `lambda:kinesis-event/${head.shard}`;
  rt.policies?.(batch);
  const rules = rt.rulesStage();
  // The shard is the event-time stream: its records are in order by themselves.
  let alerts = await rules.observe(batch, undefined, { key: head.shard });
  const { manifest } = await commitUnit(rt.lake, { source: 'das', name, kind: 'stream', batches: [batch], key: () => unitKey });
  alerts += await rules.finish(rt.lake, unitKey);
  return { files: manifest?.files.length ?? 0, alerts };
}

/** Processes one Kinesis event; returns the partial batch response and a summary. */
export async function processKinesisBatch(
  event: KinesisStreamEvent,
  rt: Runtime,
): Promise<{ batchItemFailures: { itemIdentifier: string }[]; summary: KinesisBatchSummary }> {
  const ingestTime = nowMicros();
  const kmsBefore = rt.das.stats().kmsCalls;
  const records = Array.isArray(event?.Records) ? event.Records : [];
  const shards = new Map<string, Item[]>();
  records.forEach((record, i) => {
    const item = itemOf(record, i, rt.config.dasResourceId);
    const list = shards.get(item.shard) ?? [];
    list.push(item);
    shards.set(item.shard, list);
  });
  const summary: KinesisBatchSummary = {
    records: 0,
    events: 0,
    quarantined: 0,
    skipped: {},
    units: 0,
    files: 0,
    alerts: 0,
    failed_records: 0,
    kms_calls: 0,
    failures: [],
    ...noOutcomeCounts(),
  };
  const batchItemFailures: { itemIdentifier: string }[] = [];
  for (const items of shards.values()) {
    const { batch, failedAt, reason } = await decodeShard(items, rt, ingestTime);
    const done = failedAt < 0 ? items : items.slice(0, failedAt);
    if (done.length > 0) {
      const written = await writeShardUnit(rt, done.find((i) => i.unit)?.unit ?? null, done, batch);
      summary.units++;
      summary.files += written.files;
      summary.alerts += written.alerts;
      summary.records += batch.records;
      summary.events += batch.events.length;
      summary.quarantined += batch.rejected.length;
      for (const [k, n] of Object.entries(batch.skipped)) summary.skipped[k] = (summary.skipped[k] ?? 0) + n;
      countOutcomes(summary, batch);
    }
    if (failedAt >= 0) {
      summary.failures.push(`${items[failedAt].shard}/${items[failedAt].sequenceNumber}: ${reason}`);
      for (const item of items.slice(failedAt)) {
        // An entry with no sequence number is no Kinesis record; Lambda re-sends whatever follows the failed record anyway.
        if (item.sequenceNumber) batchItemFailures.push({ itemIdentifier: item.sequenceNumber });
      }
    }
  }
  summary.failed_records = batchItemFailures.length;
  summary.kms_calls = rt.das.stats().kmsCalls - kmsBefore;
  return { batchItemFailures, summary };
}
