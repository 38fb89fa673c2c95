import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_ID } from '../../fixtures/das/sample-records.js';
import { loadLambdaConfig } from '../../src/lambda/config.js';
import { processKinesisBatch } from '../../src/lambda/kinesis-batch.js';
import { createRuntime, type Runtime } from '../../src/lambda/runtime.js';
import { FIXTURES, setEnv } from '../support/das-kms.js';
import { type KmsServer, startKmsServer } from '../support/kms-server.js';
import { TestS3 } from '../support/s3.js';
import { copyLake, DAS_EVENT, EVENTS_BY_SEQUENCE, kinesisRecord, streamArn } from './support.js';

/**
 * Partial batch failures of the DAS handler: a record whose data key KMS refuses is quarantined and
 * acknowledged (retrying cannot help); a record whose data key cannot be fetched because KMS is
 * unreachable is returned as a batch item failure, with every later record of its shard, and nothing
 * from it on is written, so Lambda's retry from that record writes each event exactly once.
 */

const LAKE = 's3://lake/partial';
const STREAM = streamArn(CLUSTER_ID);
/** A stream of another cluster: the fixtures' data keys are not bound to its resource id. */
const OTHER = streamArn('cluster-OTHERCLUSTER1');
const THIRD = streamArn('cluster-THIRDCLUSTER1');
/** Record data of the fixture event, and the events each decodes to. */
const DATA = DAS_EVENT.Records.map((r) => ({ data: r.kinesis.data, events: EVENTS_BY_SEQUENCE[r.kinesis.sequenceNumber] }));

describe('kinesis-das partial batch failures', () => {
  let s3: TestS3;
  let kms: KmsServer;
  let kmsPort: number;
  let rt: Runtime;

  let restoreEnv = () => {};
  const startKms = async (port = 0) => {
    kms = await startKmsServer({ keyFile: `${FIXTURES}kms-keys.json`, port });
    restoreEnv();
    restoreEnv = setEnv({ AWS_ENDPOINT_URL_KMS: kms.url });
    kmsPort = Number(new URL(kms.url).port);
  };

  beforeAll(async () => {
    await startKms();
    s3 = await TestS3.start();
    rt = await createRuntime(loadLambdaConfig({ LAKE_URL: LAKE }));
  });

  afterAll(async () => {
    await rt?.lake.close();
    await s3?.close();
    await kms?.stop();
    restoreEnv();
  });

  it('quarantines permanent failures and returns transient ones, then a retry completes the shard exactly once', async () => {
    // 1. KMS up: the second record is bound to another cluster's resource id, so KMS refuses its data key.
    const first = await processKinesisBatch(
      {
        Records: [
          kinesisRecord(DATA[0].data, 0, '100', STREAM),
          kinesisRecord(DATA[1].data, 0, '101', OTHER),
          kinesisRecord(DATA[2].data, 0, '102', STREAM),
          kinesisRecord(DATA[3].data, 1, '103', STREAM),
        ],
      },
      rt,
    );
    expect(first.batchItemFailures).toEqual([]);
    // Three data keys in all: the fixture's two under this cluster's context, one under the other's.
    const firstEvents = DATA[0].events + DATA[2].events + DATA[3].events;
    expect(first.summary).toMatchObject({ records: 4, events: firstEvents, quarantined: 1, units: 2, kms_calls: 3 });
    let lake = await copyLake(LAKE);
    const quarantine = await lake.quarantine();
    expect(quarantine).toHaveLength(1);
    expect(quarantine[0].source_ref).toBe('aws-rds-das-cluster-OTHERCLUSTER1/shardId-000000000000/101');
    expect(quarantine[0].reason).toMatch(/KMS Decrypt of the data key failed: InvalidCiphertextException/);
    await lake.cleanup();

    // 2. KMS down. Keys already cached still decrypt; the record of a third cluster needs KMS and fails transiently.
    await kms.stop();
    const second = await processKinesisBatch(
      {
        Records: [
          kinesisRecord(DATA[0].data, 0, '200', STREAM),
          kinesisRecord(DATA[3].data, 1, '300', STREAM),
          kinesisRecord(DATA[0].data, 0, '201', THIRD),
          kinesisRecord(DATA[2].data, 0, '202', STREAM),
          kinesisRecord(DATA[3].data, 1, '301', STREAM),
        ],
      },
      rt,
    );
    expect(second.batchItemFailures).toEqual([{ itemIdentifier: '201' }, { itemIdentifier: '202' }]);
    expect(second.summary).toMatchObject({ records: 3, events: DATA[0].events + 2 * DATA[3].events, quarantined: 0, failed_records: 2 });
    expect(second.summary.failures[0]).toMatch(/^shardId-000000000000\/201: KMS Decrypt failed after 3 attempts/);
    lake = await copyLake(LAKE);
    // Nothing of 201 and 202 was written: Lambda sends them again.
    expect(await lake.events("source_ref LIKE '%/201#%' OR source_ref LIKE '%/202#%'")).toEqual({ n: 0, distinct: 0 });
    await lake.cleanup();

    // 3. KMS back; Lambda retries shard 0 from the lowest failed sequence number.
    await startKms(kmsPort);
    const retry = await processKinesisBatch(
      { Records: [kinesisRecord(DATA[0].data, 0, '201', THIRD), kinesisRecord(DATA[2].data, 0, '202', STREAM)] },
      rt,
    );
    expect(retry.batchItemFailures).toEqual([]);
    expect(retry.summary).toMatchObject({ records: 2, events: DATA[2].events, quarantined: 1 });

    lake = await copyLake(LAKE);
    // A DAS activity re-sent in another Kinesis record keeps its id (session, statement, position): stored once.
    const total = firstEvents;
    expect(await lake.events()).toEqual({ n: total, distinct: total });
    expect((await lake.quarantine()).map((q) => q.source_ref.split('/').at(-1))).toEqual(['101', '201']);
    await lake.cleanup();
  });

  it('quarantines entries that are not Kinesis records and acknowledges them', async () => {
    const bad = kinesisRecord('not base64!', 2, '400', STREAM);
    const result = await processKinesisBatch({ Records: [bad, kinesisRecord(DATA[0].data, 2, '401', STREAM)] }, rt);
    expect(result.batchItemFailures).toEqual([]);
    expect(result.summary).toMatchObject({ records: 2, events: DATA[0].events, quarantined: 1 });
  });
});
