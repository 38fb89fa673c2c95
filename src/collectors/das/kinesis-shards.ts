/**
 * Shard bookkeeping for reading a Kinesis stream in order across resharding: a child shard (from a split or a
 * merge) may be read only once every parent has been read to its end, so records of one partition key are
 * never read out of order.
 */
// Types only: the commands are loaded by the calls that send them, so that importing this module (a run
// that reads no stream) does not load the Kinesis SDK.
import type { GetRecordsCommandOutput, KinesisClient, Shard } from '@aws-sdk/client-kinesis';
import { backoffDelay } from './kms.js';

/** Checkpoint value of a shard read to its end. */
export const SHARD_END = 'SHARD_END';

/** Lists every shard of a stream, following pagination. */
export async function listAllShards(client: KinesisClient, streamName: string): Promise<Shard[]> {
  const { ListShardsCommand } = await import('@aws-sdk/client-kinesis');
  const shards: Shard[] = [];
  let nextToken: string | undefined;
  do {
    // NextToken and StreamName are mutually exclusive in ListShards.
    const out = await client.send(new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: streamName }));
    shards.push(...(out.Shards ?? []));
    nextToken = out.NextToken;
  } while (nextToken);
  return shards;
}

/** The parent shard ids of a shard (split: one parent; merge: two). */
export function parentsOf(shard: Shard): string[] {
  return [shard.ParentShardId, shard.AdjacentParentShardId].filter((p): p is string => typeof p === 'string' && p !== '');
}

/**
 * Whether `shard` may be read now: each parent is finished, or no longer listed (trimmed after the retention
 * period, so nothing of it is left to read first).
 */
export function isReady(shard: Shard, listed: ReadonlySet<string>, finished: ReadonlySet<string>): boolean {
  return parentsOf(shard).every((p) => finished.has(p) || !listed.has(p));
}

/** Whether a shard is closed (resharded away): it has an ending sequence number. */
export function isClosed(shard: Shard): boolean {
  return shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
}

/** Where a shard without a processed record starts. */
export type ShardStart = { ShardIteratorType: 'TRIM_HORIZON' | 'LATEST' | 'AFTER_SEQUENCE_NUMBER'; StartingSequenceNumber?: string };

/** What every {@link ShardReader} of a stream shares. */
export interface ShardReading {
  client: KinesisClient;
  streamName: string;
  /** GetRecords `Limit`. */
  limit: number;
  /** Backoff base and cap for throughput and transient errors, in ms. */
  backoffBaseMs: number;
  backoffMaxMs: number;
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

/**
 * One shard being read: its iterator, the last record processed (where a fresh iterator resumes), and
 * when it may be polled again (backoff after throttling, or the poll interval after an empty read).
 */
export class ShardReader {
  private iterator: string | undefined;
  private lastSequence: string | undefined;
  private failures = 0;
  /** The last read returned nothing and the shard is at its tip. */
  caughtUp = false;
  /** Not polled before this time (ms since the epoch). */
  notBefore = 0;

  constructor(
    readonly id: string,
    private readonly start: ShardStart,
    private readonly reading: ShardReading,
  ) {}

  /** Gets the first iterator (a listing that cannot do this fails the run, as a bad stream name would). */
  async open(): Promise<void> {
    this.iterator = await this.freshIterator();
  }

  private async freshIterator(): Promise<string | undefined> {
    const at: ShardStart = this.lastSequence
      ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: this.lastSequence }
      : this.start;
    const { GetShardIteratorCommand } = await import('@aws-sdk/client-kinesis');
    const out = await this.reading.client.send(
      new GetShardIteratorCommand({ StreamName: this.reading.streamName, ShardId: this.id, ...at }),
    );
    return out.ShardIterator;
  }

  /** One GetRecords call; null when it must be retried later (expired iterator, throttling, a 5xx). */
  async poll(): Promise<GetRecordsCommandOutput | null> {
    const { GetRecordsCommand } = await import('@aws-sdk/client-kinesis');
    try {
      this.iterator ??= await this.freshIterator();
      const out = await this.reading.client.send(new GetRecordsCommand({ ShardIterator: this.iterator, Limit: this.reading.limit }));
      this.failures = 0;
      return out;
    } catch (caught) {
      const err = caught as AwsError;
      if (err.name === 'ExpiredIteratorException') {
        // Iterators live 5 minutes: a new one continues after the last record processed.
        this.iterator = undefined;
        return null;
      }
      if (!isRetried(err)) throw caught;
      this.notBefore = Date.now() + backoffDelay(this.failures++, this.reading.backoffBaseMs, this.reading.backoffMaxMs);
      return null;
    }
  }

  /**
   * Takes in a read's outcome: `last` is the sequence number of its last record, if it had any. Returns
   * false when the shard is closed and read to its end.
   */
  advance(out: GetRecordsCommandOutput, last: string | undefined, pollMs: number): boolean {
    if (last) this.lastSequence = last;
    this.iterator = out.NextShardIterator;
    const empty = (out.Records ?? []).length === 0;
    this.caughtUp = empty && (out.MillisBehindLatest ?? 0) === 0;
    if (empty && out.NextShardIterator) this.notBefore = Date.now() + pollMs;
    return out.NextShardIterator !== undefined;
  }
}

/**
 * The shards of a stream being read: those started (`active`), those read to their end (`finished`,
 * from the checkpoints and as they close), and how many wait for their parents (`pending`).
 */
export class ShardSet {
  readonly active = new Map<string, ShardReader>();
  private readonly finished: Set<string>;
  /** Shards listed but not startable yet: a parent is still being read. */
  pending = 0;
  private firstListing = true;

  constructor(
    private readonly reading: ShardReading,
    /** Saved positions, by shard. */
    private readonly checkpoints: Readonly<Record<string, string>>,
    /** Where shards without a checkpoint start. */
    private readonly from: 'trim-horizon' | 'latest',
  ) {
    this.finished = new Set(Object.keys(checkpoints).filter((id) => checkpoints[id] === SHARD_END));
  }

  /** Lists shards; starts every shard whose parents are done, and counts those still waiting in `pending`. */
  async refresh(): Promise<void> {
    const shards = await listAllShards(this.reading.client, this.reading.streamName);
    const listed = new Set(shards.map((s) => s.ShardId as string));
    this.pending = 0;
    for (const shard of shards) {
      const id = shard.ShardId as string;
      if (this.finished.has(id) || this.active.has(id)) continue;
      if (!isReady(shard, listed, this.finished)) {
        this.pending++;
        continue;
      }
      const start = this.startOf(shard);
      if (!start) {
        this.finished.add(id);
        continue;
      }
      const reader = new ShardReader(id, start, this.reading);
      await reader.open();
      this.active.set(id, reader);
    }
    this.firstListing = false;
  }

  /** Where a shard starts: after its checkpoint, else at the stream's start or tip; null for nothing to read. */
  private startOf(shard: Shard): ShardStart | null {
    const checkpoint = this.checkpoints[shard.ShardId as string];
    if (checkpoint) return { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: checkpoint };
    if (this.firstListing && this.from === 'latest') {
      // Starting at the tip: closed shards hold only the past, open ones start at their end.
      return isClosed(shard) ? null : { ShardIteratorType: 'LATEST' };
    }
    return { ShardIteratorType: 'TRIM_HORIZON' };
  }

  /** A shard read to its end: its children may start at the next refresh. */
  finish(id: string): void {
    this.active.delete(id);
    this.finished.add(id);
  }

  /** Every active shard is at its tip and none waits for a parent. */
  caughtUp(): boolean {
    return this.pending === 0 && [...this.active.values()].every((s) => s.caughtUp);
  }

  /** The earliest time an active shard may be polled. */
  nextPoll(): number {
    return Math.min(...[...this.active.values()].map((s) => s.notBefore));
  }
}
