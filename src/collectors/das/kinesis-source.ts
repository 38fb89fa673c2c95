/**
 * A live reader of a DAS Kinesis stream: every shard, parents before children, resuming from per-shard
 * checkpoints. It yields each decoded batch with the shard positions it covers; the caller writes the batch and
 * only then calls `commit(positions)`, so a checkpoint never runs ahead of durable data (at-least-once, and with
 * deterministic event ids a re-read rewrites the same rows rather than duplicating them).
 *
 * One loop polls the shards in turn, one GetRecords call at a time: the consumer pulling batches is the
 * backpressure, and there is no queue. Idle shards are polled at most every `pollIntervalMs`.
 *
 * Each item names its shard, and items without records say when a shard opens, goes idle at its tip, or
 * ends, so a consumer can keep event time per shard (the rules engine's watermarks).
 */
import type { _Record, KinesisClient } from '@aws-sdk/client-kinesis';
import { z } from 'zod';
import { type Batch, newBatch, nowMicros } from '../../schema/index.js';
import type { DasDecoder } from './decoder.js';
import { createKinesisClient } from './kinesis-client.js';
import { SHARD_END, type ShardReading, ShardSet } from './kinesis-shards.js';
import { sleep } from './kms.js';

export { SHARD_END } from './kinesis-shards.js';

/** Per-shard positions, as stored: the last sequence number processed, or {@link SHARD_END}, by shard id. */
export const shardPositionsSchema = z.record(z.string(), z.string());

/** Per-shard positions: the last sequence number processed, or {@link SHARD_END}. */
export type ShardPositions = z.infer<typeof shardPositionsSchema>;

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
  /** The shard read: each shard is its own event-time stream (records of a partition key stay in one shard, in order). */
  shard: string;
  /**
   * On an item with no records and no positions, what changed about the shard: `open` (started: it holds
   * event time back until it shows records), `idle` (at its tip with nothing new), `ended` (read to its
   * end and its children started, so the event time it held passes to them).
   */
  state?: 'open' | 'idle' | 'ended';
}

/** The reader: iterate it for batches; commit each batch's positions once its data is durable. */
export interface KinesisSource extends AsyncIterable<SourceBatch> {
  commit(positions: ShardPositions): Promise<void>;
  /** Positions committed so far. */
  committed(): ShardPositions;
}

/** Builds a reader of `streamName`. Nothing is called until iteration starts. */
export function createKinesisSource(options: KinesisSourceOptions): KinesisSource {
  const store = options.checkpoints;
  const committed: ShardPositions = {};
  let saving: Promise<void> = Promise.resolve();

  async function* run(): AsyncGenerator<SourceBatch> {
    const reading: ShardReading = {
      client: options.client ?? (await createKinesisClient()),
      streamName: options.streamName,
      limit: options.limit ?? 1000,
      backoffBaseMs: options.backoffBaseMs ?? 250,
      backoffMaxMs: options.backoffMaxMs ?? 10_000,
    };
    const signal = options.signal;
    const pollMs = options.pollIntervalMs ?? 1000;
    const loaded = store ? await store.load() : {};
    Object.assign(committed, loaded);
    const shards = new ShardSet(reading, loaded, options.from ?? 'trim-horizon');
    // Shards announced as open, and those announced idle since their last records.
    const announced = new Set<string>();
    const idle = new Set<string>();
    const mark = (shard: string, state: 'open' | 'idle' | 'ended'): SourceBatch => ({ batch: newBatch(), positions: {}, shard, state });
    function* opened(): Generator<SourceBatch> {
      for (const id of shards.active.keys()) {
        if (announced.has(id)) continue;
        announced.add(id);
        yield mark(id, 'open');
      }
    }
    await shards.refresh();
    yield* opened();
    while (!signal?.aborted) {
      if (shards.active.size === 0) {
        if (!options.follow && shards.pending === 0) return;
        await sleep(pollMs, signal);
        await shards.refresh();
        yield* opened();
        continue;
      }
      let gotRecords = false;
      const ended: string[] = [];
      for (const shard of [...shards.active.values()]) {
        if (signal?.aborted) return;
        if (shard.notBefore > Date.now()) continue;
        const out = await shard.poll();
        if (!out) continue;
        const read = await decode(shard.id, out.Records ?? []);
        gotRecords ||= read !== null;
        const positions: ShardPositions = read ? { [shard.id]: read.last } : {};
        if (!shard.advance(out, read?.last, pollMs)) {
          // A closed shard read to its end: its children may start now.
          positions[shard.id] = SHARD_END;
          shards.finish(shard.id);
          ended.push(shard.id);
        }
        if (read) idle.delete(shard.id);
        if (Object.keys(positions).length) yield { batch: read?.batch ?? newBatch(), positions, shard: shard.id };
        if (!read && shard.caughtUp && !ended.includes(shard.id) && !idle.has(shard.id)) {
          idle.add(shard.id);
          yield mark(shard.id, 'idle');
        }
      }
      if (ended.length) {
        await shards.refresh();
        // The children are open before their parents end, so the event time a parent held passes to them.
        yield* opened();
        for (const id of ended) {
          idle.delete(id);
          yield mark(id, 'ended');
        }
      }
      if (!gotRecords && !ended.length) {
        if (!options.follow && shards.caughtUp()) return;
        await sleep(Math.max(0, Math.min(pollMs, shards.nextPoll() - Date.now())), signal);
      }
    }
  }

  /** Decodes the records of one GetRecords call; null when there were none. */
  async function decode(shardId: string, records: _Record[]): Promise<{ batch: Batch; last: string } | null> {
    if (records.length === 0) return null;
    const inputs = records.map((r) => ({
      data: r.Data ?? new Uint8Array(),
      sequenceNumber: r.SequenceNumber as string,
      shardId,
      partitionKey: r.PartitionKey,
    }));
    const ingestTime = (options.ingestTime ?? nowMicros)();
    const batch = await options.decoder.decodeKinesisRecords(inputs, options.streamName, ingestTime, options.resourceId);
    return { batch, last: inputs[inputs.length - 1].sequenceNumber };
  }

  return {
    [Symbol.asyncIterator]: run,
    commit(positions) {
      Object.assign(committed, positions);
      const snapshot = { ...committed };
      // Saves are serialized, so a slow earlier save never overwrites a later one. A failed save fails its
      // own commit only: the next one saves every position committed so far, the failed ones included.
      const save = saving.catch(() => {}).then(() => store?.save(snapshot));
      saving = save;
      return save;
    },
    committed: () => ({ ...committed }),
  };
}
