/**
 * Shard bookkeeping for reading a Kinesis stream in order across resharding: a child shard (from a split or a
 * merge) may be read only once every parent has been read to its end, so records of one partition key are
 * never read out of order.
 */
import { type KinesisClient, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';

/** Checkpoint value of a shard read to its end. */
export const SHARD_END = 'SHARD_END';

/** Lists every shard of a stream, following pagination. */
export async function listAllShards(client: KinesisClient, streamName: string): Promise<Shard[]> {
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
