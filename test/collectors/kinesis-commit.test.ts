import { KinesisClient } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { createDasDecoder } from '../../src/collectors/das/decoder.js';
import { type CheckpointStore, createKinesisSource, type ShardPositions } from '../../src/collectors/das/kinesis-source.js';

/** Checkpoint commits of the Kinesis reader, with a store whose saves can fail (no stream is read). */

function flakyStore(failures: number): CheckpointStore & { saved: ShardPositions[] } {
  const saved: ShardPositions[] = [];
  let left = failures;
  return {
    saved,
    load: async () => ({}),
    async save(positions) {
      if (left-- > 0) throw new Error('SlowDown: checkpoint save throttled');
      saved.push(positions);
    },
  };
}

function source(store: CheckpointStore) {
  return createKinesisSource({
    streamName: 'aws-rds-das-cluster-ABC',
    decoder: createDasDecoder({}),
    checkpoints: store,
    client: new KinesisClient({ region: 'us-east-1' }),
  });
}

describe('Kinesis checkpoint commits', () => {
  it('a failed save fails its own commit only: the next commit saves every position so far', async () => {
    const store = flakyStore(1);
    const reader = source(store);
    await expect(reader.commit({ 'shardId-000': '10' })).rejects.toThrow('SlowDown');
    await reader.commit({ 'shardId-001': '20' });
    expect(store.saved).toEqual([{ 'shardId-000': '10', 'shardId-001': '20' }]);
    expect(reader.committed()).toEqual({ 'shardId-000': '10', 'shardId-001': '20' });
  });

  it('saves in commit order, so a slow earlier save never overwrites a later one', async () => {
    const store = flakyStore(0);
    const reader = source(store);
    await Promise.all([reader.commit({ a: '1' }), reader.commit({ a: '2' }), reader.commit({ b: '3' })]);
    expect(store.saved).toEqual([{ a: '1' }, { a: '2' }, { a: '2', b: '3' }]);
  });
});
