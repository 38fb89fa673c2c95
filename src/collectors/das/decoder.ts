/**
 * Turns raw DAS Kinesis records into a {@link Batch}: envelope, data key (KMS, cached), ESDK decrypt, gunzip,
 * JSON, mapping. Shared by the file collector, the live Kinesis reader and a Lambda handler.
 *
 * Every record is counted in `records` and ends as events, a quarantined {@link Rejected} with its reason, or
 * counted skips. Only a transient failure (KMS unavailable after retries) throws, as a `DasTransientError`: the
 * caller must then not acknowledge the records.
 */

import type { KMSClient } from '@aws-sdk/client-kms';
import { type Batch, countAsOneRecord, idKey, MAX_REJECTED_RECORD, mergeBatch, newBatch, rejected } from '../../schema/index.js';
import { DataKeyCache } from './data-key-cache.js';
import { DasKeyMaterial, decryptActivity } from './decrypt.js';
import { type DecryptPool, sharedDecryptPool } from './decrypt-pool.js';
import { parseEnvelope } from './envelope.js';
import { decryptDataKey, encryptionContextFor, resourceIdFromStream } from './kms.js';
import { type DasFilters, mapDasRecord } from './map-event.js';
import { mapOrdered } from './ordered.js';

/** A record as Kinesis returns it (GetRecords, a Lambda event), already base64-decoded. */
export interface KinesisRecordInput {
  data: Uint8Array;
  sequenceNumber: string;
  shardId: string;
  partitionKey?: string;
}

/** One raw record to decode, wherever it came from. */
export interface DasUnit {
  /** The Kinesis record data: the envelope JSON. */
  data: Uint8Array | string;
  /** Id key of the record; event ids derive from it. */
  key: string;
  /** `source_ref` of the record. */
  ref: string;
  /** Resource id the data key is bound to, or null when unknown (the record is then rejected). */
  resourceId: string | null;
}

/** What the data-key cache holds: what decrypts a data key's messages, or why KMS refused the key. */
export type CachedKey = { ok: true; material: DasKeyMaterial } | { ok: false; reason: string };

/** Options for {@link createDasDecoder}. */
export interface DasDecoderOptions {
  /** KMS client; default one built from the environment (`AWS_REGION`, `AWS_ENDPOINT_URL_KMS`, credentials). */
  kms?: KMSClient;
  /** Data-key cache; share one across decoders to share keys. Default: a new one. */
  cache?: DataKeyCache<CachedKey>;
  /** Records decrypted at once. Default 8. */
  concurrency?: number;
  filters?: Partial<DasFilters>;
  /**
   * Worker threads for decryption: the process-wide pool by default (one thread per core, up to 4;
   * `AUDITLAKE_DECRYPT_THREADS` overrides), null to decrypt on the calling thread.
   */
  pool?: DecryptPool | null;
}

/** Decodes DAS records into batches. */
export interface DasDecoder {
  /** Decodes records of a DAS stream (name or ARN); the resource id defaults to the one in the stream name. */
  decodeKinesisRecords(records: readonly KinesisRecordInput[], stream: string, ingestTime: number, resourceId?: string): Promise<Batch>;
  /** Decodes arbitrary units, in order, into one batch. */
  decodeUnits(units: readonly DasUnit[], ingestTime: number): Promise<Batch>;
  /** KMS Decrypt calls made, and the cache's counters. */
  stats(): { kmsCalls: number; cache: ReturnType<DataKeyCache<CachedKey>['stats']> };
}

/** The record data as text (the envelope is JSON). */
function rawText(data: Uint8Array | string): string {
  return typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
}

/** The id key and `source_ref` of a Kinesis record: stream, shard and sequence number identify it for good. */
export function kinesisUnit(record: KinesisRecordInput, stream: string, resourceId: string | null): DasUnit {
  const name = stream.slice(stream.lastIndexOf('/') + 1);
  return {
    data: record.data,
    key: idKey('das', name, record.shardId, record.sequenceNumber),
    ref: `${name}/${record.shardId}/${record.sequenceNumber}`,
    resourceId,
  };
}

/** Builds a decoder. */
export function createDasDecoder(options: DasDecoderOptions = {}): DasDecoder {
  // Built by the first data key (the KMS SDK loaded then), once however many keys are fetched at once.
  let kms: Promise<KMSClient> | null = options.kms ? Promise.resolve(options.kms) : null;
  const cache = options.cache ?? new DataKeyCache<CachedKey>();
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const filters: DasFilters = {
    excludeUsers: options.filters?.excludeUsers ?? new Set(),
    users: options.filters?.users,
    databases: options.filters?.databases,
  };
  let kmsCalls = 0;
  const pool = options.pool === undefined ? sharedDecryptPool() : options.pool;

  function keyFor(resourceId: string, keyText: string, keyBlob: Buffer): Promise<CachedKey> {
    const context = Object.entries(encryptionContextFor(resourceId))[0].join('=');
    return cache.get(`${context}\u0000${keyText}`, async () => {
      kms ??= import('@aws-sdk/client-kms').then(({ KMSClient }) => new KMSClient({}));
      kmsCalls++;
      const result = await decryptDataKey(await kms, keyBlob, resourceId);
      return result.ok ? { ok: true, material: new DasKeyMaterial(result.key) } : result;
    });
  }

  /** Why `unit` cannot become events, or null once its events are in `piece`. */
  async function decodeInto(unit: DasUnit, text: string, ingestTime: number, piece: Batch): Promise<string | null> {
    const parsed = parseEnvelope(text);
    if (!parsed.ok) return parsed.reason;
    if (!unit.resourceId) return 'unknown resource id: configure resourceId, or read a stream named aws-rds-das-<resource id>';
    const key = await keyFor(unit.resourceId, parsed.envelope.key, parsed.envelope.keyBlob);
    if (!key.ok) return key.reason;
    const activity = await decryptActivity(key.material, parsed.envelope.events, pool);
    if (!activity.ok) return activity.reason;
    mapDasRecord(activity.record, { key: unit.key, ref: unit.ref, ingestTime }, filters, piece);
    return null;
  }

  async function decodeOne(unit: DasUnit, ingestTime: number): Promise<Batch> {
    const piece = newBatch();
    piece.records = 1;
    const text = rawText(unit.data);
    const reason = await decodeInto(unit, text, ingestTime, piece);
    // Kept whole, up to a Kinesis record's size, so a quarantined record can be decrypted again later.
    if (reason !== null) piece.rejected.push(rejected(unit.ref, reason, text, MAX_REJECTED_RECORD));
    // One record, often several events: the record counts once, by what became of its events.
    countAsOneRecord(piece);
    return piece;
  }

  async function decodeUnits(units: readonly DasUnit[], ingestTime: number): Promise<Batch> {
    const batch = newBatch();
    for await (const piece of mapOrdered(units, concurrency, (unit) => decodeOne(unit, ingestTime))) mergeBatch(batch, piece);
    return batch;
  }

  return {
    decodeUnits,
    decodeKinesisRecords(records, stream, ingestTime, resourceId) {
      const id = resourceId ?? resourceIdFromStream(stream);
      return decodeUnits(
        records.map((r) => kinesisUnit(r, stream, id)),
        ingestTime,
      );
    },
    stats: () => ({ kmsCalls, cache: cache.stats() }),
  };
}
