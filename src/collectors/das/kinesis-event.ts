/**
 * The AWS Lambda Kinesis event: `{"Records":[{"kinesis":{"data":"<base64>","sequenceNumber":"…","partitionKey":"…"},
 * "eventID":"shardId-000000000000:4959…","eventSourceARN":"arn:aws:kinesis:…:stream/aws-rds-das-cluster-…"}]}`.
 */
import { MAX_REJECTED_RECORD, type Rejected, rejected } from '../../schema/index.js';
import { type DasUnit, kinesisUnit } from './decoder.js';
import { decodeBase64Strict } from './envelope.js';
import { resourceIdFromStream } from './kms.js';

/** The units of a Lambda Kinesis event, and the entries that are not Kinesis records. */
export interface KinesisEventUnits {
  units: DasUnit[];
  rejected: Rejected[];
}

/** Whether a text starts like a Lambda event (`{"Records": [`), rather than JSON Lines of envelopes. */
export function looksLikeKinesisEvent(head: string): boolean {
  return /^\s*\{\s*"Records"\s*:\s*\[/.test(head);
}

/**
 * Units of each record of a Lambda Kinesis event. The stream (and so the default resource id) comes from each
 * record's `eventSourceARN`, the shard from its `eventID`. `name` locates malformed entries (`<name>#Records[i]`).
 */
export function kinesisEventUnits(event: unknown, name: string, resourceId?: string): KinesisEventUnits {
  const out: KinesisEventUnits = { units: [], rejected: [] };
  const records = (event as { Records?: unknown })?.Records;
  if (!Array.isArray(records)) {
    out.rejected.push(rejected(name, 'not a Kinesis event: no Records array', JSON.stringify(event)));
    return out;
  }
  for (let i = 0; i < records.length; i++) {
    const problem = addRecord(records[i]);
    if (problem) out.rejected.push(rejected(`${name}#Records[${i}]`, problem, JSON.stringify(records[i])));
  }
  return out;

  /** Adds the unit of one event record; returns why it is not a Kinesis record, if it is not. */
  function addRecord(entry: unknown): string | null {
    const rec = entry as { kinesis?: Record<string, unknown>; eventID?: unknown; eventSourceARN?: unknown } | null;
    const k = rec?.kinesis;
    if (!k || typeof k !== 'object') return 'event record has no kinesis object';
    if (typeof k.data !== 'string') return 'event record has no kinesis.data';
    if (typeof k.sequenceNumber !== 'string' || k.sequenceNumber === '') return 'event record has no kinesis.sequenceNumber';
    const eventID = typeof rec.eventID === 'string' ? rec.eventID : '';
    const colon = eventID.indexOf(':');
    if (colon <= 0) return `event record has no shard in eventID ${JSON.stringify(rec.eventID ?? null)}`;
    const stream = typeof rec.eventSourceARN === 'string' && rec.eventSourceARN !== '' ? rec.eventSourceARN : 'unknown-stream';
    const data = decodeBase64Strict(k.data);
    const input = {
      data: data ?? Buffer.alloc(0),
      shardId: eventID.slice(0, colon),
      sequenceNumber: k.sequenceNumber,
      partitionKey: typeof k.partitionKey === 'string' ? k.partitionKey : undefined,
    };
    const unit = kinesisUnit(input, stream, resourceId ?? resourceIdFromStream(stream));
    if (data) out.units.push(unit);
    else out.rejected.push(rejected(unit.ref, 'kinesis.data is not valid base64', k.data, MAX_REJECTED_RECORD));
    return null;
  }
}
