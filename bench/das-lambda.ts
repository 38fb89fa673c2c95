/**
 * The DAS Lambda handler per batch: `npx tsx bench/das-lambda.ts [--batches 6] [--records 500]`.
 *
 * Builds Kinesis events of `--records` DAS records (about 1 MB at the default, Lambda's batch limit of 500
 * records or 6 MB), points the handler at an s3rver lake and the local KMS endpoint through the SDK's own
 * `AWS_ENDPOINT_URL_*` variables, and invokes it `--batches` times in one process as a warm Lambda container
 * would, with decryption on worker threads and again with `AUDITLAKE_DECRYPT_THREADS=0` (each configuration in
 * its own process, so memory figures do not mix). Prints the first (cold) batch, the median warm batch, records/s
 * and the process's peak RSS.
 */
import { spawnSync } from 'node:child_process';
import { KMSClient } from '@aws-sdk/client-kms';
import { KMS_KEY_ID } from '../fixtures/das/generate-keys.js';
import { CLUSTER_ID } from '../fixtures/das/sample-records.js';
import type { KinesisStreamEvent } from '../src/lambda/events.js';
import { type DasDataKey, generateDataKey } from '../test/support/das-encoder.js';
import { startKmsServer } from '../test/support/kms-server.js';
import { TestS3 } from '../test/support/s3.js';
import { generateDasRecords } from './das.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** One configuration, in this process: returns a printable line. */
async function measure(batches: number, records: number): Promise<string> {
  const kmsServer = await startKmsServer({ keyFile: new URL('../fixtures/das/kms-keys.json', import.meta.url).pathname });
  const s3 = await TestS3.start();
  try {
    process.env.AWS_ENDPOINT_URL_KMS = kmsServer.url;
    process.env.LAKE_URL = 's3://lake/bench-das-lambda';
    const kms = new KMSClient({ region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
    const keys: DasDataKey[] = [];
    for (let i = 0; i < 4; i++) keys.push(await generateDataKey(kms, KMS_KEY_ID, CLUSTER_ID));
    const lines = await generateDasRecords(keys, records * batches, 10);
    const stream = `arn:aws:kinesis:us-east-1:000000000000:stream/aws-rds-das-${CLUSTER_ID}`;
    const events: KinesisStreamEvent[] = [];
    let bytes = 0;
    for (let b = 0; b < batches; b++) {
      const batch = lines.slice(b * records, (b + 1) * records).map((line, i) => {
        const sequenceNumber = String(1_000_000 + b * records + i);
        bytes += line.length;
        return {
          eventID: `shardId-000000000000:${sequenceNumber}`,
          eventSourceARN: stream,
          kinesis: { data: Buffer.from(line).toString('base64'), sequenceNumber, partitionKey: 'p' },
        };
      });
      events.push({ Records: batch } as unknown as KinesisStreamEvent);
    }
    const { handler } = await import('../src/lambda/kinesis-das.js');
    const times: number[] = [];
    for (const event of events) {
      const t = performance.now();
      const { batchItemFailures } = await handler(event);
      times.push(performance.now() - t);
      if (batchItemFailures.length) throw new Error(`bench: ${batchItemFailures.length} records failed`);
    }
    const warm = median(times.slice(1));
    const peak = process.resourceUsage().maxRSS / 1024;
    const threads = process.env.AUDITLAKE_DECRYPT_THREADS ?? 'default';
    return `decrypt threads ${threads.padEnd(7)}: ${(bytes / batches / 1e6).toFixed(2)} MB batches of ${records} records; first ${Math.round(times[0])} ms, warm median ${Math.round(warm)} ms (${Math.round((records / warm) * 1000)} records/s), peak RSS ${Math.round(peak)} MB`;
  } finally {
    await kmsServer.stop();
    await s3.close();
  }
}

async function main(): Promise<void> {
  const batches = arg('batches', 6);
  const records = arg('records', 500);
  if (process.env.BENCH_DAS_LAMBDA_CHILD) {
    console.log(await measure(batches, records));
    process.exit(0);
  }
  for (const threads of [undefined, '0']) {
    const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...process.argv.slice(2)], {
      env: { ...process.env, BENCH_DAS_LAMBDA_CHILD: '1', ...(threads === undefined ? {} : { AUDITLAKE_DECRYPT_THREADS: threads }) },
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`bench: child failed\n${child.stderr}`);
    process.stdout.write(
      child.stdout
        .split('\n')
        .filter((l) => l.startsWith('decrypt threads'))
        .join('\n') + '\n',
    );
  }
}

await main();
