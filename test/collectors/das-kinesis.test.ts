/**
 * The live Kinesis reader against kinesalite (in-process) and the local KMS: a 2-shard stream resharded midway,
 * read whole (no loss, no duplicates, parents before children), then read in two runs resumed from checkpoints.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:net';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  ListShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KMS_KEY_ID } from '../../fixtures/das/generate-keys.js';
import { CLUSTER_ID, INSTANCE_ID, STREAM_NAME } from '../../fixtures/das/sample-records.js';
import { createDasDecoder } from '../../src/collectors/das/decoder.js';
import { createKinesisClient } from '../../src/collectors/das/kinesis-client.js';
import { type CheckpointStore, createKinesisSource, SHARD_END, type ShardPositions } from '../../src/collectors/das/kinesis-source.js';
import type { AuditEvent } from '../../src/schema/index.js';
import { type DasDataKey, encodeDasRecord, generateDataKey } from '../support/das-encoder.js';
import { setEnv, startDasKms } from '../support/das-kms.js';
import type { KmsServer } from '../support/kms-server.js';

const require = createRequire(import.meta.url);
const TOTAL = 60;

let kinesalite: Server;
let restoreKinesisEnv: (() => void) | undefined;
let kms: KmsServer;

function record(i: number) {
  return {
    type: 'DatabaseActivityMonitoringRecord',
    clusterId: CLUSTER_ID,
    instanceId: INSTANCE_ID,
    databaseActivityEventList: [
      {
        type: 'record',
        class: 'READ',
        command: 'SELECT',
        commandText: `select ${i}`,
        logTime: `2024-05-01 10:00:${String(i % 60).padStart(2, '0')}.000001+00`,
        statementId: i,
        substatementId: 1,
        databaseName: 'appdb',
        dbUserName: 'app_user',
        sessionId: '6632152e.10e1',
        pid: 4321,
        paramList: [],
      },
      { type: 'heartbeat' },
    ],
  };
}

async function waitActive(client: Awaited<ReturnType<typeof createKinesisClient>>) {
  for (;;) {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: STREAM_NAME }));
    if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function put(client: Awaited<ReturnType<typeof createKinesisClient>>, keys: DasDataKey[], from: number, to: number) {
  const entries = [];
  for (let i = from; i < to; i++) {
    entries.push({ Data: Buffer.from(await encodeDasRecord(record(i), '1.2', keys[i % keys.length])), PartitionKey: `session-${i}` });
  }
  const out = await client.send(new PutRecordsCommand({ StreamName: STREAM_NAME, Records: entries }));
  expect(out.FailedRecordCount ?? 0).toBe(0);
}

beforeAll(async () => {
  kms = await startDasKms();
  const createKinesalite = require('kinesalite') as (o: object) => Server;
  kinesalite = createKinesalite({ createStreamMs: 50, updateStreamMs: 50 });
  await new Promise<void>((resolve) => kinesalite.listen(0, '127.0.0.1', resolve));
  const { port } = kinesalite.address() as { port: number };
  restoreKinesisEnv = setEnv({ AWS_ENDPOINT_URL_KINESIS: `http://127.0.0.1:${port}` });

  const client = await createKinesisClient();
  await client.send(new CreateStreamCommand({ StreamName: STREAM_NAME, ShardCount: 2 }));
  await waitActive(client);
  const kmsClient = new KMSClient({});
  const keys = [await generateDataKey(kmsClient, KMS_KEY_ID, CLUSTER_ID), await generateDataKey(kmsClient, KMS_KEY_ID, CLUSTER_ID)];
  await put(client, keys, 0, TOTAL / 2);
  // Split shard 0 halfway through its hash range: it closes, two children take the rest of the records.
  const shards = (await client.send(new ListShardsCommand({ StreamName: STREAM_NAME }))).Shards ?? [];
  const range = shards[0].HashKeyRange!;
  const mid = (BigInt(range.StartingHashKey!) + BigInt(range.EndingHashKey!)) / 2n;
  await client.send(
    new SplitShardCommand({ StreamName: STREAM_NAME, ShardToSplit: shards[0].ShardId!, NewStartingHashKey: mid.toString() }),
  );
  await waitActive(client);
  await put(client, keys, TOTAL / 2, TOTAL);
});

afterAll(async () => {
  await new Promise((r) => kinesalite?.close(r));
  restoreKinesisEnv?.();
  await kms?.stop();
});

function memoryStore(): CheckpointStore & { saved: ShardPositions[] } {
  const saved: ShardPositions[] = [];
  return {
    saved,
    load: async () => ({ ...(saved.at(-1) ?? {}) }),
    save: async (p) => {
      saved.push({ ...p });
    },
  };
}

describe('DAS Kinesis reader', () => {
  it('reads every record once, parents before children, and stops when caught up', async () => {
    const decoder = createDasDecoder({ kms: new KMSClient({}) });
    const source = createKinesisSource({ streamName: STREAM_NAME, decoder, pollIntervalMs: 20 });
    const events: AuditEvent[] = [];
    const order: string[] = [];
    let records = 0;
    let heartbeats = 0;
    for await (const { batch, positions } of source) {
      events.push(...batch.events);
      records += batch.records;
      heartbeats += batch.skipped.heartbeat ?? 0;
      expect(batch.rejected).toEqual([]);
      for (const [shard, pos] of Object.entries(positions)) order.push(pos === SHARD_END ? `${shard}:end` : shard);
      await source.commit(positions);
    }
    const ids = events.map((e) => e.statement_id).sort((a, b) => Number(a) - Number(b));
    expect(ids).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    expect(new Set(events.map((e) => e.event_id)).size).toBe(TOTAL);
    expect(records).toBe(TOTAL);
    expect(heartbeats).toBe(TOTAL);
    // The split parent (shard 0) ends before any child (shards 2 and 3) is read.
    const parentEnd = order.indexOf('shardId-000000000000:end');
    expect(parentEnd).toBeGreaterThanOrEqual(0);
    const childFirst = order.findIndex((s) => s.startsWith('shardId-000000000002') || s.startsWith('shardId-000000000003'));
    expect(childFirst).toBeGreaterThan(parentEnd);
    expect(source.committed()['shardId-000000000000']).toBe(SHARD_END);
    // Two data keys: two KMS calls, whatever the number of records.
    expect(decoder.stats().kmsCalls).toBe(2);
  });

  it('stops midway and resumes from checkpoints without loss or duplicates', async () => {
    const store = memoryStore();
    const written: AuditEvent[] = [];
    const stop = new AbortController();
    const decoder = createDasDecoder({ kms: new KMSClient({}) });
    const first = createKinesisSource({
      streamName: STREAM_NAME,
      decoder,
      checkpoints: store,
      signal: stop.signal,
      limit: 7,
      pollIntervalMs: 20,
    });
    let batches = 0;
    for await (const { batch, positions } of first) {
      written.push(...batch.events);
      await first.commit(positions);
      if (++batches === 3) stop.abort();
    }
    expect(written.length).toBeGreaterThan(0);
    expect(written.length).toBeLessThan(TOTAL);

    const second = createKinesisSource({ streamName: STREAM_NAME, decoder, checkpoints: store, limit: 7, pollIntervalMs: 20 });
    for await (const { batch, positions } of second) {
      written.push(...batch.events);
      await second.commit(positions);
    }
    const ids = written.map((e) => e.statement_id).sort((a, b) => Number(a) - Number(b));
    expect(ids).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    expect(Object.values(store.saved.at(-1) ?? {})).toContain(SHARD_END);
  });

  it('renews expired iterators and backs off on throughput errors without loss or duplicates', async () => {
    const client = await createKinesisClient();
    const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
    let calls = 0;
    const failures: Record<number, string> = {
      2: 'ExpiredIteratorException',
      4: 'ProvisionedThroughputExceededException',
      5: 'ExpiredIteratorException',
    };
    client.send = (async (command: unknown) => {
      if (command instanceof GetRecordsCommand && failures[++calls]) {
        throw Object.assign(new Error('injected'), { name: failures[calls], $metadata: { httpStatusCode: 400 } });
      }
      return send(command);
    }) as never;
    const decoder = createDasDecoder({ kms: new KMSClient({}) });
    const source = createKinesisSource({ streamName: STREAM_NAME, decoder, client, limit: 5, pollIntervalMs: 20, backoffBaseMs: 5 });
    const ids: number[] = [];
    for await (const { batch, positions } of source) {
      ids.push(...batch.events.map((e) => Number(e.statement_id)));
      await source.commit(positions);
    }
    expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    expect(calls).toBeGreaterThan(5);
  });
});
