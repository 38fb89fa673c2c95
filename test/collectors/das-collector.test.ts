import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KMS_KEY_ID } from '../../fixtures/das/generate-keys.js';
import { auroraRecords, CLUSTER_ID, STREAM_NAME } from '../../fixtures/das/sample-records.js';
import { dasCollector } from '../../src/collectors/das/collector.js';
import { createDasDecoder } from '../../src/collectors/das/decoder.js';
import { DasTransientError } from '../../src/collectors/das/kms.js';
import { encodeDasRecord, generateDataKey } from '../support/das-encoder.js';
import { collectFile, FIXTURES, setEnv, startDasKms } from '../support/das-kms.js';
import type { KmsServer } from '../support/kms-server.js';

let kms: KmsServer;
const tmp = mkdtempSync(join(tmpdir(), 'das-collector-'));

beforeAll(async () => {
  kms = await startDasKms();
});
afterAll(async () => {
  await kms.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('DAS collector', () => {
  it('quarantines each bad record with a reason while the rest lands', async () => {
    const { total } = await collectFile(`${FIXTURES}bad-records.jsonl`, { resourceId: CLUSTER_ID });
    expect(total.records).toBe(13);
    expect(total.rejected).toHaveLength(11);
    expect(total.events).toHaveLength(6);
    expect(total.skipped).toEqual({ heartbeat: 2 });
    const reasons = total.rejected.map((r) => r.reason).join('\n');
    for (const expected of [
      'databaseActivityEvents is not valid base64',
      'InvalidCiphertextException',
      'ESDK decrypt failed',
      'not gzip',
      'decrypted payload is not JSON',
      'envelope is not JSON',
      'unknown envelope type',
      'empty record',
      'AccessDeniedException',
      'key is not valid base64',
    ]) {
      expect(reasons).toContain(expected);
    }
    // Every rejected record keeps its raw text and location.
    for (const r of total.rejected) expect(r.source_ref).toMatch(/bad-records\.jsonl:\d+$/);
  });

  it('calls KMS once per distinct data key', async () => {
    const before = kms.calls.Decrypt ?? 0;
    const { total } = await collectFile(`${FIXTURES}aurora-pg.jsonl`, { resourceId: CLUSTER_ID });
    expect(total.records).toBe(6);
    expect((kms.calls.Decrypt ?? 0) - before).toBe(2);
  });

  it('coalesces concurrent lookups of one data key into one KMS call', async () => {
    const kmsClient = new KMSClient({});
    const key = await generateDataKey(kmsClient, KMS_KEY_ID, CLUSTER_ID);
    const data = await encodeDasRecord(auroraRecords()[0].record, '1.1', key);
    const decoder = createDasDecoder({ kms: kmsClient, concurrency: 8 });
    const records = Array.from({ length: 16 }, (_, i) => ({
      data: Buffer.from(data),
      shardId: 'shardId-000000000000',
      sequenceNumber: String(1000 + i),
    }));
    const batch = await decoder.decodeKinesisRecords(records, STREAM_NAME, 1);
    expect(batch.records).toBe(16);
    expect(batch.events).toHaveLength(48);
    // The same activity sent 16 times is one set of 3 events: ids derive from session and statement, not the Kinesis record.
    expect(new Set(batch.events.map((e) => e.event_id)).size).toBe(3);
    expect(decoder.stats().kmsCalls).toBe(1);
  });

  it('cuts batches by size and keeps input order', async () => {
    const { total, batches } = await collectFile(`${FIXTURES}aurora-pg.jsonl`, { resourceId: CLUSTER_ID }, 'x', 2);
    expect(batches).toBeGreaterThan(1);
    expect(total.events.map((e) => e.source_ref)).toEqual(
      [...total.events.map((e) => e.source_ref)].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })),
    );
  });

  it('applies user and database filters, counting what it drops', async () => {
    const { total } = await collectFile(`${FIXTURES}aurora-pg.jsonl`, {
      resourceId: CLUSTER_ID,
      excludeUsers: ['rdsadmin'],
      databases: ['appdb'],
    });
    expect(total.skipped).toEqual({ heartbeat: 4, 'excluded user': 1, 'database not in allow-list': 1 });
    expect(total.events).toHaveLength(16);
  });

  it('rejects malformed entries of a Lambda event', async () => {
    const path = join(tmp, 'event.json');
    writeFileSync(
      path,
      JSON.stringify({
        Records: [
          {
            kinesis: { data: 'not base64!', sequenceNumber: '1' },
            eventID: 'shardId-000000000000:1',
            eventSourceARN: `arn:aws:kinesis:us-east-1:1:stream/${STREAM_NAME}`,
          },
          { kinesis: { sequenceNumber: '2' }, eventID: 'shardId-000000000000:2' },
          {
            kinesis: { data: '', sequenceNumber: '3' },
            eventID: 'shardId-000000000000:3',
            eventSourceARN: `arn:aws:kinesis:us-east-1:1:stream/${STREAM_NAME}`,
          },
        ],
      }),
    );
    const { total } = await collectFile(path, {});
    expect(total.records).toBe(3);
    expect(total.rejected.map((r) => [r.source_ref, r.reason])).toEqual([
      [`${STREAM_NAME}/shardId-000000000000/1`, 'kinesis.data is not valid base64'],
      [`${path}#Records[1]`, 'event record has no kinesis.data'],
      [`${STREAM_NAME}/shardId-000000000000/3`, 'empty record'],
    ]);
  });

  it('rejects a Lambda event that is not JSON as one record', async () => {
    const path = join(tmp, 'broken.json');
    writeFileSync(path, '{"Records": [ {"kinesis": ');
    const { total } = await collectFile(path, {});
    expect(total.records).toBe(1);
    expect(total.rejected[0].reason).toMatch(/^Lambda event is not JSON/);
  });

  it('refuses JSON Lines without a resource id, and unknown options', async () => {
    await expect(collectFile(`${FIXTURES}aurora-pg.jsonl`, {})).rejects.toThrow(/resourceId/);
    await expect(collectFile(`${FIXTURES}aurora-pg.jsonl`, { resourceId: CLUSTER_ID, bogus: 1 })).rejects.toThrow(/bogus/);
  });

  it('detects both DAS input forms', () => {
    expect(dasCollector.detect('{\n  "Records": [\n')).toBe('das');
    expect(dasCollector.detect('{"type":"DatabaseActivityMonitoringRecords","version":"1.1"}\n')).toBe('das');
    expect(dasCollector.detect('2024-05-01 10:15:02 UTC:10.0.1.25(51544):u@d:[1]:LOG:  x')).toBeNull();
  });

  it('throws a transient error, not a rejection, when KMS is unreachable', async () => {
    const down = new KMSClient({ endpoint: 'http://127.0.0.1:9', maxAttempts: 2 });
    const decoder = createDasDecoder({ kms: down });
    const key = await generateDataKey(new KMSClient({}), KMS_KEY_ID, CLUSTER_ID);
    const data = Buffer.from(await encodeDasRecord(auroraRecords()[0].record, '1.1', key));
    const failed = decoder.decodeKinesisRecords([{ data, shardId: 's', sequenceNumber: '1' }], STREAM_NAME, 1);
    await expect(failed).rejects.toBeInstanceOf(DasTransientError);
    // The SDK's retry strategy made the attempts (maxAttempts, or AWS_MAX_ATTEMPTS): none added on top.
    await expect(failed).rejects.toThrow(/^KMS Decrypt failed after 2 attempts/);
  });

  it('quarantines a record of an unknown envelope version whole, so it can be read again', async () => {
    const key = await generateDataKey(new KMSClient({}), KMS_KEY_ID, CLUSTER_ID);
    const known = await encodeDasRecord(auroraRecords()[0].record, '1.2', key);
    const unknown = await encodeDasRecord(auroraRecords()[0].record, '2.0', key);
    const path = join(tmp, 'versions.jsonl');
    writeFileSync(path, `${known}\n${unknown}\n`);
    const { total } = await collectFile(path, { resourceId: CLUSTER_ID });
    expect(total.records).toBe(2);
    expect(total.events.length).toBeGreaterThan(0);
    expect(total.rejected.map((r) => [r.source_ref, r.reason, r.raw])).toEqual([
      [`${path}:2`, 'unknown envelope version "2.0" (known: 1.0, 1.1, 1.2)', unknown],
    ]);
  });

  it('test wiring: the local KMS puts the environment back when it stops', async () => {
    const names = ['AWS_ENDPOINT_URL_KMS', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_PROFILE'];
    const restore = setEnv({ AWS_PROFILE: 'kept' });
    const before = Object.fromEntries(names.map((n) => [n, process.env[n]]));
    const second = await startDasKms();
    expect(process.env.AWS_ENDPOINT_URL_KMS).toBe(second.url);
    await second.stop();
    expect(Object.fromEntries(names.map((n) => [n, process.env[n]]))).toEqual(before);
    restore();
    expect(process.env.AWS_PROFILE).toBeUndefined();
  });
});
