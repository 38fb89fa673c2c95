import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAM_NAME } from '../../fixtures/das/sample-records.js';
import { createKinesisClient } from '../../src/collectors/das/kinesis-client.js';
import { SKIP_ALREADY_STORED } from '../../src/pipeline/stats.js';
import { cli } from '../support/cli.js';
import { setEnv, startDasKms } from '../support/das-kms.js';
import type { KmsServer } from '../support/kms-server.js';
import { tempLake } from '../support/lake.js';

/**
 * `auditlake ingest --kinesis-stream` as a user runs it, against kinesalite and the local KMS: the
 * fixture's Aurora records put on a two-shard stream, read into the lake, resumed from checkpoints,
 * and read again after the consumer is killed midway, with nothing lost or duplicated.
 */

const require = createRequire(import.meta.url);
const ENVELOPES = (await readFile('fixtures/das/aurora-pg.jsonl', 'utf8')).split('\n').filter(Boolean);
const EXPECTED = JSON.parse(await readFile('fixtures/das/aurora-pg.expected.json', 'utf8')) as { events: unknown[] };

async function counts(lake: string): Promise<{ n: number; distinct: number }> {
  const r = await cli(
    'query',
    '--lake',
    lake,
    '--format',
    'json',
    "SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM audit_events WHERE source = 'das'",
  );
  const [row] = JSON.parse(r.out);
  return { n: Number(row.n), distinct: Number(row.d) };
}

describe('auditlake ingest --kinesis-stream', () => {
  let kinesalite: Server;
  let restoreKinesisEnv: (() => void) | undefined;
  let kms: KmsServer;
  const client = () => createKinesisClient();

  async function putAll(times: number) {
    for (let t = 0; t < times; t++) {
      const Records = ENVELOPES.map((line, i) => ({ Data: Buffer.from(line), PartitionKey: `p-${t}-${i}` }));
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

  it('reads the stream, resumes from checkpoints, and never duplicates', async () => {
    const lake = await tempLake();
    try {
      await putAll(1);
      const first = await cli('ingest', '--kinesis-stream', STREAM_NAME, '--out', lake.dir, '--json', '--rules', 'rules');
      expect(first.code, first.err).toBe(0);
      expect(JSON.parse(first.out)).toMatchObject({
        records: ENVELOPES.length,
        events: EXPECTED.events.length,
        quarantined: 0,
        kms_calls: 2,
      });
      expect(await counts(lake.dir)).toEqual({ n: EXPECTED.events.length, distinct: EXPECTED.events.length });
      expect(existsSync(join(lake.dir, '_state/kinesis', `${STREAM_NAME}.json`))).toBe(true);

      const again = await cli('ingest', '--kinesis-stream', STREAM_NAME, '--out', lake.dir, '--json');
      expect(JSON.parse(again.out)).toMatchObject({ records: 0, events: 0 });
      await putAll(2);
      const more = await cli('ingest', '--kinesis-stream', STREAM_NAME, '--out', lake.dir, '--json');
      // Both deliveries repeat stored activities: none is an event written, every one a duplicate.
      const repeated = JSON.parse(more.out);
      expect(repeated).toMatchObject({
        records: 2 * ENVELOPES.length,
        events: 0,
        duplicate_events: 2 * EXPECTED.events.length,
      });
      // And the counts add up: every repeated event is skipped on purpose, as already stored.
      expect(repeated.event_counts).toMatchObject({ written: 0, quarantined: 0 });
      expect(repeated.skipped[SKIP_ALREADY_STORED]).toBe(2 * EXPECTED.events.length);
      expect(repeated.event_counts.read).toBe(repeated.event_counts.skipped);
      // The same envelopes put again are the same activities (same session and statement ids): stored once.
      expect(await counts(lake.dir)).toEqual({ n: EXPECTED.events.length, distinct: EXPECTED.events.length });
    } finally {
      await lake.cleanup();
    }
  });

  it('loses and duplicates nothing when the consumer is killed midway and restarted', async () => {
    const lake = await tempLake();
    try {
      const total = (await counts(lake.dir)).n;
      expect(total).toBe(0);
      const stream = (await (await client()).send(new DescribeStreamSummaryCommand({ StreamName: STREAM_NAME }))).StreamDescriptionSummary;
      expect(stream?.OpenShardCount).toBe(2);
      // A consumer that writes a unit every 5 events, killed once its first checkpoint is on disk.
      const child = spawn(
        process.execPath,
        ['bin/auditlake.js', 'ingest', '--kinesis-stream', STREAM_NAME, '--out', lake.dir, '--follow', '--flush-events', '5'],
        {
          env: process.env,
          stdio: 'ignore',
        },
      );
      const checkpoint = join(lake.dir, '_state/kinesis', `${STREAM_NAME}.json`);
      for (let i = 0; i < 600 && !existsSync(checkpoint); i++) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(checkpoint)).toBe(true);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const resumed = await cli('ingest', '--kinesis-stream', STREAM_NAME, '--out', lake.dir, '--json');
      expect(resumed.code, resumed.err).toBe(0);
      // Three deliveries of the same activities: each stored once, killed or not.
      const expected = EXPECTED.events.length;
      expect(await counts(lake.dir)).toEqual({ n: expected, distinct: expected });
    } finally {
      await lake.cleanup();
    }
  });
});
