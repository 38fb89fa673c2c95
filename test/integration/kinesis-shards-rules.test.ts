import { createRequire } from 'node:module';
import type { Server } from 'node:net';
import { CreateStreamCommand, DescribeStreamSummaryCommand, ListShardsCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KMS_KEY_ID } from '../../fixtures/das/generate-keys.js';
import { CLUSTER_ID, INSTANCE_ID, STREAM_NAME } from '../../fixtures/das/sample-records.js';
import { createKinesisClient } from '../../src/collectors/das/kinesis-client.js';
import { cli } from '../support/cli.js';
import { type DasDataKey, encodeDasRecord, generateDataKey } from '../support/das-encoder.js';
import { setEnv, startDasKms } from '../support/das-kms.js';
import type { KmsServer } from '../support/kms-server.js';
import { tempLake } from '../support/lake.js';

/**
 * Per-shard event time in a live Kinesis ingest with rules, against kinesalite (two shards) and the local
 * KMS. Each shard is in order by itself, but their clocks are an hour apart: shard B's records run to
 * 12:00 while shard A, whose 1,100 records take two reads, is still at 10:04. Mallory's password is
 * guessed three times through shard A and twice through shard B within one 10-minute window. With one
 * event-time stream for the whole Kinesis stream, shard A's second read would arrive an hour behind
 * and be late; with a watermark per shard nothing is late, the streamed alerts include the brute force,
 * and the alerts in the lake are exactly what `hunt` finds over it.
 */

const require = createRequire(import.meta.url);

const BASE = Date.UTC(2026, 10, 22, 10, 0, 0);

/** DAS `logTime` text of `ms` after 10:00. */
function logTime(ms: number): string {
  return `${new Date(BASE + ms).toISOString().replace('T', ' ').replace('Z', '')}+00`;
}

/** One DAS record holding one activity: a SELECT, or a failed login of mallory from 198.51.100.9. */
function activity(session: string, ms: number, failedLogin: boolean) {
  const event = failedLogin
    ? { class: 'CONNECT', command: 'AUTH FAILURE', exitCode: '28P01', dbUserName: 'mallory', remoteHost: '198.51.100.9' }
    : { class: 'READ', command: 'SELECT', commandText: 'select 1', dbUserName: 'app_user', remoteHost: '10.0.0.5', exitCode: null };
  return {
    type: 'DatabaseActivityMonitoringRecord',
    clusterId: CLUSTER_ID,
    instanceId: INSTANCE_ID,
    databaseActivityEventList: [
      {
        type: 'record',
        ...event,
        logTime: logTime(ms),
        statementId: 1,
        substatementId: 1,
        databaseName: 'appdb',
        sessionId: session,
        pid: 4321,
        paramList: [],
      },
    ],
  };
}

function alertKey(a: Record<string, unknown>): string {
  return `${a.rule_id} ${a.alert_id} ${a.group_key} ${(a.event_ids as string[]).join(',')}`;
}

describe('auditlake ingest --kinesis-stream --rules: a watermark per shard', () => {
  let kinesalite: Server;
  let restoreKinesisEnv: (() => void) | undefined;
  let kms: KmsServer;
  const client = () => createKinesisClient();

  async function put(records: { data: string; hashKey: string }[]) {
    for (let i = 0; i < records.length; i += 500) {
      const Records = records
        .slice(i, i + 500)
        .map((r, j) => ({ Data: Buffer.from(r.data), PartitionKey: `k${i + j}`, ExplicitHashKey: r.hashKey }));
      const out = await (await client()).send(new PutRecordsCommand({ StreamName: STREAM_NAME, Records }));
      expect(out.FailedRecordCount ?? 0).toBe(0);
    }
  }

  beforeAll(async () => {
    kms = await startDasKms();
    kinesalite = (require('kinesalite') as (o: object) => Server)({ createStreamMs: 20 });
    await new Promise<void>((r) => kinesalite.listen(0, '127.0.0.1', r));
    restoreKinesisEnv = setEnv({ AWS_ENDPOINT_URL_KINESIS: `http://127.0.0.1:${(kinesalite.address() as { port: number }).port}` });
    await (await client()).send(new CreateStreamCommand({ StreamName: STREAM_NAME, ShardCount: 2 }));
    for (;;) {
      const s = await (await client()).send(new DescribeStreamSummaryCommand({ StreamName: STREAM_NAME }));
      if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  afterAll(async () => {
    await new Promise((r) => kinesalite?.close(r));
    restoreKinesisEnv?.();
    await kms?.stop();
  });

  it('nothing is late when each shard is in order, a rule fires across shards, and the lake agrees with hunt', async () => {
    const shards = (await (await client()).send(new ListShardsCommand({ StreamName: STREAM_NAME }))).Shards ?? [];
    expect(shards).toHaveLength(2);
    const [hashA, hashB] = shards.map((s) => s.HashKeyRange?.StartingHashKey as string);
    const key: DasDataKey = await generateDataKey(new KMSClient({}), KMS_KEY_ID, CLUSTER_ID);
    const encode = (record: unknown) => encodeDasRecord(record, '1.2', key);

    // Shard A: 1,100 records a quarter second apart from 10:00:00 (two GetRecords calls of 1,000), three of
    // them failed logins at 10:04:12.5, 10:04:15 and 10:04:17.5, in its second read.
    const onA: { data: string; hashKey: string }[] = [];
    for (let i = 0; i < 1100; i++)
      onA.push({ data: await encode(activity(`a-${i}`, i * 250, i === 1050 || i === 1060 || i === 1070)), hashKey: hashA });
    // Shard B: two failed logins at 10:04:30 and 10:04:40, then its clock runs an hour ahead (11:00 to 12:00).
    const onB: { data: string; hashKey: string }[] = [];
    for (const s of [270, 280]) onB.push({ data: await encode(activity(`b-${s}`, s * 1000, true)), hashKey: hashB });
    for (let m = 60; m <= 120; m += 5) onB.push({ data: await encode(activity(`b-m${m}`, m * 60_000, false)), hashKey: hashB });
    await put([...onA, ...onB]);

    const lake = await tempLake();
    try {
      const run = await cli('ingest', '--kinesis-stream', STREAM_NAME, '--out', lake.dir, '--json', '--rules', 'rules', '--lateness', '1m');
      expect(run.code, run.err).toBe(0);
      const summary = JSON.parse(run.out);
      expect(summary).toMatchObject({ records: 1100 + onB.length, events: 1100 + onB.length, quarantined: 0 });
      // Shard B ran an hour ahead of shard A's second read; per shard, nothing was behind.
      expect(summary.rules.late_events).toBe(0);
      expect(summary.rules.caught_up_alerts).toBe(0);

      // The brute force was raised by the stream itself, from the failures of both shards.
      const stored = await cli(
        'query',
        '--lake',
        lake.dir,
        '--format',
        'json',
        "SELECT * FROM audit_alerts WHERE rule_id = 'auth-brute-force'",
      );
      const brute = JSON.parse(stored.out) as Record<string, unknown>[];
      expect(brute).toHaveLength(1);
      expect(brute[0]).toMatchObject({ group_key: 'db_user=mallory,client_addr=198.51.100.9', origin: 'stream', superseded: false });
      expect(Number(brute[0].event_count)).toBe(5);

      const current = await cli('query', '--lake', lake.dir, '--format', 'json', 'SELECT * FROM audit_alerts WHERE NOT superseded');
      const hunt = await cli('hunt', '--lake', lake.dir, '--format', 'jsonl');
      expect(hunt.code, hunt.err).toBe(0);
      const found = hunt.out.trim().split('\n').filter(Boolean);
      const fromHunt = found.map((l) => alertKey(JSON.parse(l))).sort();
      expect((JSON.parse(current.out) as Record<string, unknown>[]).map(alertKey).sort()).toEqual(fromHunt);
      expect(fromHunt.some((k) => k.startsWith('auth-brute-force '))).toBe(true);
      expect(summary.alerts).toBe(found.length);
    } finally {
      await lake.cleanup();
    }
  });
});
