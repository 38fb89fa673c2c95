import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_ID } from '../../fixtures/das/sample-records.js';
import { createKinesisClient } from '../../src/collectors/das/kinesis-client.js';
import { loadLambdaConfig } from '../../src/lambda/config.js';
import { processKinesisBatch } from '../../src/lambda/kinesis-batch.js';
import { createRuntime } from '../../src/lambda/runtime.js';
import { SKIP_NOT_SELECTED } from '../../src/pipeline/policies-stage.js';
import { copyLake, DAS_EVENT, DAS_EXPECTED_EVENTS, query as queryDir } from '../lambda/support.js';
import { cli } from '../support/cli.js';
import { setEnv, startDasKms } from '../support/das-kms.js';
import type { KmsServer } from '../support/kms-server.js';
import { tempLake } from '../support/lake.js';
import { TestS3 } from '../support/s3.js';

/**
 * Aurora DAS logs everything; the same policies select at ingest what is kept. The fixture stream
 * (fixtures/das/aurora-pg.jsonl, decrypted through the local KMS) read as a file and from a Kinesis
 * stream (kinesalite) with --policy-mode only, and by the Lambda handler (POLICIES_DIR, POLICY_MODE).
 */

const require = createRequire(import.meta.url);
const ENVELOPES = (await readFile('fixtures/das/aurora-pg.jsonl', 'utf8')).split('\n').filter(Boolean);
const STREAM = 'aws-rds-das-policies-test';

const POLICIES = `- id: account-reads
  table: public.accounts
  operations: [SELECT]
- id: order-writes
  table: public.orders
  operations: [INSERT, UPDATE, DELETE]
- id: failed-anything-missing
  table: public.missing_table
  operations: [ALL]
  outcome: failed
`;

async function kept(lake: string): Promise<string[]> {
  const r = await cli(
    'query',
    '--lake',
    lake,
    '--format',
    'json',
    `SELECT event_class || ' ' || coalesce(command, '') || ' ' || array_to_string(policy_ids, ',') AS e FROM audit_events ORDER BY event_time, event_id`,
  );
  expect(r.code, r.err).toBe(0);
  return (JSON.parse(r.out) as { e: string }[]).map((x) => x.e.trim());
}

/** Records of the lake that gave at least one stored event. */
async function recordsWithEvents(lake: string): Promise<number> {
  const r = await cli(
    'query',
    '--lake',
    lake,
    '--format',
    'json',
    "SELECT count(DISTINCT regexp_replace(source_ref, '#[0-9]+$', '')) AS n FROM audit_events",
  );
  expect(r.code, r.err).toBe(0);
  return Number(JSON.parse(r.out)[0].n);
}

// In event time order. DAS keeps a failed statement in its class (READ) with success false.
const EXPECTED = [
  'CONNECT CONNECT',
  'AUTH_FAILURE AUTHENTICATION',
  'CONNECT CONNECT',
  'READ SELECT account-reads',
  'READ SELECT failed-anything-missing',
  'AUTH_FAILURE CONNECT',
  'AUTH_FAILURE CONNECT',
  'CONNECT CONNECT',
  'WRITE INSERT order-writes',
  'DISCONNECT DISCONNECT',
  'DISCONNECT DISCONNECT',
  'CONNECT CONNECT',
];

describe('policies select DAS events at ingest', () => {
  let kms: KmsServer;
  let kinesalite: Server;
  let restoreKinesisEnv: (() => void) | undefined;
  let lake: Awaited<ReturnType<typeof tempLake>>;
  let policies: string;

  beforeAll(async () => {
    kms = await startDasKms();
    lake = await tempLake();
    policies = join(lake.dir, 'policies.yaml');
    await writeFile(policies, POLICIES);
    kinesalite = (require('kinesalite') as (o: object) => Server)({ createStreamMs: 20 });
    await new Promise<void>((r) => kinesalite.listen(0, '127.0.0.1', r));
    restoreKinesisEnv = setEnv({ AWS_ENDPOINT_URL_KINESIS: `http://127.0.0.1:${(kinesalite.address() as { port: number }).port}` });
  });

  afterAll(async () => {
    await new Promise((r) => kinesalite?.close(r));
    restoreKinesisEnv?.();
    await kms?.stop();
    await lake?.cleanup();
  });

  it('from a file of DAS records', async () => {
    const out = join(lake.dir, 'file-lake');
    const r = await cli(
      'ingest',
      'fixtures/das/aurora-pg.jsonl',
      '--das-resource-id',
      CLUSTER_ID,
      '--out',
      out,
      '--json',
      '--policies',
      policies,
      '--policy-mode',
      'only',
    );
    expect(r.code, r.err).toBe(0);
    const summary = JSON.parse(r.out);
    expect(summary.events).toBe(EXPECTED.length);
    // 18 events in the fixture: the 6 no policy selects are accounted for as skipped on purpose.
    expect(summary.skipped).toEqual({ heartbeat: 4, [SKIP_NOT_SELECTED]: 6 });
    expect(await kept(out)).toEqual(EXPECTED);
    // A record counts as written only if one of its events was: a record whose every event the policies
    // left out is skipped on purpose (its source_ref is the record's, plus `#<event index>`).
    const withEvents = await recordsWithEvents(out);
    expect(summary.record_counts).toEqual({
      read: ENVELOPES.length,
      written: withEvents,
      quarantined: 0,
      skipped: ENVELOPES.length - withEvents,
    });
    const tagged = join(lake.dir, 'file-lake-tag');
    const all = await cli(
      'ingest',
      'fixtures/das/aurora-pg.jsonl',
      '--das-resource-id',
      CLUSTER_ID,
      '--out',
      tagged,
      '--json',
      '--policies',
      policies,
    );
    expect(all.code, all.err).toBe(0);
    // The fixture has records whose events no policy selects, so the two modes differ.
    expect(JSON.parse(all.out).record_counts.written).toBe(await recordsWithEvents(tagged));
    // (Every fixture record holds a connection event, always kept; test/policies/policies.test.ts has records that lose every event.)
  });

  it('from a Kinesis stream', async () => {
    const client = await createKinesisClient();
    await client.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 1 }));
    for (;;) {
      const s = await client.send(new DescribeStreamSummaryCommand({ StreamName: STREAM }));
      if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const Records = ENVELOPES.map((line, i) => ({ Data: Buffer.from(line), PartitionKey: `p-${i}` }));
    await client.send(new PutRecordsCommand({ StreamName: STREAM, Records }));
    const out = join(lake.dir, 'stream-lake');
    const r = await cli(
      'ingest',
      '--kinesis-stream',
      STREAM,
      '--das-resource-id',
      CLUSTER_ID,
      '--out',
      out,
      '--json',
      '--policies',
      policies,
      '--policy-mode',
      'only',
    );
    expect(r.code, r.err).toBe(0);
    const summary = JSON.parse(r.out);
    expect(summary).toMatchObject({ events: EXPECTED.length, skipped: { heartbeat: 4, [SKIP_NOT_SELECTED]: 6 } });
    const withEvents = await recordsWithEvents(out);
    expect(summary.record_counts).toEqual({
      read: ENVELOPES.length,
      written: withEvents,
      quarantined: 0,
      skipped: ENVELOPES.length - withEvents,
    });
    expect(summary.event_counts).toEqual({ read: EXPECTED.length + 10, written: EXPECTED.length, quarantined: 0, skipped: 10 });
    expect(await kept(out)).toEqual(EXPECTED);
    // The human summary says the same, and both lines add up.
    const again = await cli(
      'ingest',
      '--kinesis-stream',
      STREAM,
      '--das-resource-id',
      CLUSTER_ID,
      '--out',
      `${out}-2`,
      '--policies',
      policies,
      '--policy-mode',
      'only',
    );
    expect(again.code, again.err).toBe(0);
    expect(again.out + again.err).toContain(
      `records read: ${ENVELOPES.length} = ${withEvents} with events written + 0 quarantined + ${ENVELOPES.length - withEvents} skipped on purpose`,
    );
    expect(again.out + again.err).toContain(
      `events read:  ${EXPECTED.length + 10} = ${EXPECTED.length} written + 0 quarantined + 10 skipped on purpose`,
    );
  });

  it('in the Lambda handler of a DAS stream', async () => {
    const s3 = await TestS3.start();
    const rt = await createRuntime(loadLambdaConfig({ LAKE_URL: 's3://lake/policies', POLICIES_DIR: policies, POLICY_MODE: 'only' }));
    try {
      const { summary, batchItemFailures } = await processKinesisBatch(DAS_EVENT as never, rt);
      expect(batchItemFailures).toEqual([]);
      // 15 events in the fixture: sessions, logins and the three policy events are kept.
      expect(summary.events).toBe(10);
      expect(summary.events + summary.skipped[SKIP_NOT_SELECTED]).toBe(DAS_EXPECTED_EVENTS);
      const { record_counts: records, event_counts: events } = summary;
      expect(records.read).toBe(summary.records);
      expect(records.read).toBe(records.written + records.quarantined + records.skipped);
      expect(events).toEqual({
        read: DAS_EXPECTED_EVENTS + (summary.skipped.heartbeat ?? 0),
        written: 10,
        quarantined: 0,
        skipped: DAS_EXPECTED_EVENTS - 10 + (summary.skipped.heartbeat ?? 0),
      });
      const copy = await copyLake('s3://lake/policies');
      const rows = await queryDir(
        copy.dir,
        "SELECT array_to_string(policy_ids, ',') AS p FROM audit_events WHERE len(policy_ids) > 0 ORDER BY 1",
      );
      expect(rows.map((r) => r.p)).toEqual(['account-reads', 'failed-anything-missing', 'order-writes']);
      await copy.cleanup();
    } finally {
      await rt.lake.close();
      await s3.close();
    }
  });
});
