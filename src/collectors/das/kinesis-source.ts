/**
 * A live reader of a DAS Kinesis stream: every shard, parents before children, resuming from per-shard
 * checkpoints. It yields each decoded batch with the shard positions it covers; the caller writes the batch and
 * only then calls `commit(positions)`, so a checkpoint never runs ahead of durable data (at-least-once, and with
 * deterministic event ids a re-read rewrites the same rows rather than duplicating them).
 *
 * One loop polls the shards in turn, one GetRecords call at a time: the consumer pulling batches is the
 * backpressure, and there is no queue. Idle shards are polled at most every `pollIntervalMs`.
 */
import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { type Batch, newBatch, nowMicros } from '../../schema/index.js';
import type { DasDecoder } from './decoder.js';
import { createKinesisClient } from './kinesis-client.js';
import { isClosed, isReady, listAllShards, SHARD_END } from './kinesis-shards.js';
import { backoffDelay, sleep } from './kms.js';

export { SHARD_END } from './kinesis-shards.js';

/** Per-shard positions: the last sequence number processed, or {@link SHARD_END}. */
export type ShardPositions = Record<string, string>;

/** Where checkpoints live (the lake's `_state/` in the pipeline). */
export interface CheckpointStore {
  load(): Promise<ShardPositions>;
  /** Saves the whole map of positions (not a delta). */
  save(positions: ShardPositions): Promise<void>;
}

/** Options for {@link createKinesisSource}. */
export interface KinesisSourceOptions {
  streamName: string;
  decoder: DasDecoder;
  /** Resource id of the data keys; default from the stream name `aws-rds-das-<id>`. */
  resourceId?: string;
  /** Where shards without a checkpoint start. Default `trim-horizon`. */
  from?: 'trim-horizon' | 'latest';
  /** Keep polling for new records (true), or stop once every shard is caught up (false, the default). */
  follow?: boolean;
  checkpoints?: CheckpointStore;
  /** Stops reading (SIGINT/SIGTERM): the current call finishes, then iteration ends. */
  signal?: AbortSignal;
  /** Default: {@link createKinesisClient}. */
  client?: KinesisClient;
  /** GetRecords `Limit`. Default 1000. */
  limit?: number;
  /** Wait before polling a shard that returned nothing. Default 1000 ms. */
  pollIntervalMs?: number;
  /** Backoff base and cap for throughput and transient errors. Defaults 250 ms and 10 s. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Ingest time of a batch; default now. */
  ingestTime?: () => number;
}

/** A decoded batch and the shard positions reached with it. */
export interface SourceBatch {
  batch: Batch;
  positions: ShardPositions;
}

/** The reader: iterate it for batches; commit each batch's positions once its data is durable. */
export interface KinesisSource extends AsyncIterable<SourceBatch> {
  commit(positions: ShardPositions): Promise<void>;
  /** Positions committed so far. */
  committed(): ShardPositions;
}

interface ShardState {
  id: string;
  iterator: string | undefined;
  /** How to get a fresh iterator when none was processed yet. */
  start: { ShardIteratorType: 'TRIM_HORIZON' | 'LATEST' | 'AFTER_SEQUENCE_NUMBER'; StartingSequenceNumber?: string };
  lastSequence?: string;
  caughtUp: boolean;
  notBefore: number;
  failures: number;
}

interface AwsError {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

const RETRIED = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'KMSThrottlingException',
  'InternalFailure',
  'ServiceUnavailable',
]);

function isRetried(err: AwsError): boolean {
  const status = err.$metadata?.httpStatusCode;
  return (err.name !== undefined && RETRIED.has(err.name)) || status === undefined || status >= 500 || status === 429;
}

/** Builds a reader of `streamName`. Nothing is called until iteration starts. */
export function createKinesisSource(options: KinesisSourceOptions): KinesisSource {
  const client = options.client ?? createKinesisClient();
  const store = options.checkpoints;
  const committed: ShardPositions = {};
  let saving: Promise<void> = Promise.resolve();

  async function* run(): AsyncGenerator<SourceBatch> {
    const signal = options.signal;
    const pollMs = options.pollIntervalMs ?? 1000;
    const baseMs = options.backoffBaseMs ?? 250;
    const maxMs = options.backoffMaxMs ?? 10_000;
    const loaded = store ? await store.load() : {};
    Object.assign(committed, loaded);
    const finished = new Set(Object.keys(loaded).filter((id) => loaded[id] === SHARD_END));
    const active = new Map<string, ShardState>();
    let pending = 0;
    let firstListing = true;

    async function iteratorFor(state: ShardState): Promise<string | undefined> {
      const at = state.lastSequence
        ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, StartingSequenceNumber: state.lastSequence }
        : state.start;
      const out = await client.send(new GetShardIteratorCommand({ StreamName: options.streamName, ShardId: state.id, ...at }));
      return out.ShardIterator;
    }

    /** Lists shards; starts every shard whose parents are done, and counts those still waiting in `pending`. */
    async function refresh(): Promise<void> {
      const shards: Shard[] = await listAllShards(client, options.streamName);
      const listed = new Set(shards.map((s) => s.ShardId as string));
      pending = 0;
      for (const shard of shards) {
        const id = shard.ShardId as string;
        if (finished.has(id) || active.has(id)) continue;
        if (!isReady(shard, listed, finished)) {
          pending++;
          continue;
        }
        const checkpoint = loaded[id];
        let start: ShardState['start'];
        if (checkpoint) start = { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: checkpoint };
        else if (firstListing && options.from === 'latest') {
          // Starting at the tip: closed shards hold only the past, open ones start at their end.
          if (isClosed(shard)) {
            finished.add(id);
            continue;
          }
          start = { ShardIteratorType: 'LATEST' };
        } else start = { ShardIteratorType: 'TRIM_HORIZON' };
        const state: ShardState = { id, iterator: undefined, start, caughtUp: false, notBefore: 0, failures: 0 };
        state.iterator = await iteratorFor(state);
        active.set(id, state);
      }
      firstListing = false;
    }

    /** One GetRecords call on a shard; null when it must be retried later. */
    async function poll(state: ShardState): Promise<GetRecordsCommandOutput | null> {
      try {
        state.iterator ??= await iteratorFor(state);
        const out = await client.send(new GetRecordsCommand({ ShardIterator: state.iterator, Limit: options.limit ?? 1000 }));
        state.failures = 0;
        return out;
      } catch (caught) {
        const err = caught as AwsError;
        if (err.name === 'ExpiredIteratorException') {
          // Iterators live 5 minutes: a new one continues after the last record processed.
          state.iterator = undefined;
          return null;
        }
        if (!isRetried(err)) throw caught;
        state.notBefore = Date.now() + backoffDelay(state.failures++, baseMs, maxMs);
        return null;
      }
    }

    await refresh();
    while (!signal?.aborted) {
      if (active.size === 0) {
        if (!options.follow && pending === 0) return;
        await sleep(pollMs, signal);
        await refresh();
        continue;
      }
      let gotRecords = false;
      let ended = false;
      for (const state of [...active.values()]) {
        if (signal?.aborted) return;
        if (state.notBefore > Date.now()) continue;
        const out = await poll(state);
        if (!out) continue;
        const records = out.Records ?? [];
        const positions: ShardPositions = {};
        let batch = newBatch();
        if (records.length) {
          gotRecords = true;
          const inputs = records.map((r) => ({
            data: r.Data ?? new Uint8Array(),
            sequenceNumber: r.SequenceNumber as string,
            shardId: state.id,
            partitionKey: r.PartitionKey,
          }));
          batch = await options.decoder.decodeKinesisRecords(
            inputs,
            options.streamName,
            (options.ingestTime ?? nowMicros)(),
            options.resourceId,
          );
          state.lastSequence = inputs[inputs.length - 1].sequenceNumber;
          positions[state.id] = state.lastSequence;
        }
        state.iterator = out.NextShardIterator;
        state.caughtUp = records.length === 0 && (out.MillisBehindLatest ?? 0) === 0;
        if (!out.NextShardIterator) {
          // A closed shard read to its end: its children may start now.
          positions[state.id] = SHARD_END;
          active.delete(state.id);
          finished.add(state.id);
          ended = true;
        }
        if (Object.keys(positions).length) yield { batch, positions };
        if (!records.length && out.NextShardIterator) state.notBefore = Date.now() + pollMs;
      }
      if (ended) await refresh();
      if (!gotRecords && !ended) {
        if (!options.follow && pending === 0 && [...active.values()].every((s) => s.caughtUp)) return;
        const wake = Math.min(...[...active.values()].map((s) => s.notBefore));
        await sleep(Math.max(0, Math.min(pollMs, wake - Date.now())), signal);
      }
    }
  }

  return {
    [Symbol.asyncIterator]: run,
    commit(positions) {
      Object.assign(committed, positions);
      const snapshot = { ...committed };
      // Saves are serialized, so a slow earlier save never overwrites a later one.
      saving = saving.then(() => store?.save(snapshot));
      return saving;
    },
    committed: () => ({ ...committed }),
  };
}
