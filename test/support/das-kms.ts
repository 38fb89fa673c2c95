/**
 * Test wiring for DAS: the local KMS endpoint with the fixtures' key file, reached by the real KMS client through
 * `AWS_ENDPOINT_URL_KMS`, and helpers to run the DAS collector over a file.
 */
import { createReadStream } from 'node:fs';
import { KMSClient } from '@aws-sdk/client-kms';
import { createDasCollector } from '../../src/collectors/das/collector.js';
import { DataKeyCache } from '../../src/collectors/das/data-key-cache.js';
import type { CachedKey } from '../../src/collectors/das/decoder.js';
import { type Batch, idKey, newBatch } from '../../src/schema/index.js';
import { type KmsServer, startKmsServer } from './kms-server.js';

export const FIXTURES = new URL('../../fixtures/das/', import.meta.url).pathname;

/**
 * Starts the local KMS and points the SDK's environment at it (endpoint, region, dummy credentials);
 * `stop()` closes it and puts the environment back as it was.
 */
export async function startDasKms(): Promise<KmsServer> {
  const server = await startKmsServer({ keyFile: `${FIXTURES}kms-keys.json` });
  const restore = setEnv({
    AWS_ENDPOINT_URL_KMS: server.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  });
  return {
    ...server,
    async stop() {
      restore();
      await server.stop();
    },
  };
}

/** Sets environment variables; the function returned restores each to its earlier value (or absence). */
export function setEnv(values: Record<string, string>): () => void {
  const before = Object.fromEntries(Object.keys(values).map((k) => [k, process.env[k]]));
  Object.assign(process.env, values);
  return () => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/** Every batch of a collector run folded into one, plus the batches' event counts. */
export interface CollectResult {
  total: Batch;
  batches: number;
}

/** Runs a fresh DAS collector (own KMS client from the environment, own cache) over a fixture file. */
export async function collectFile(path: string, options: Record<string, unknown>, name = path, batchSize = 5000): Promise<CollectResult> {
  const collector = createDasCollector({ kms: new KMSClient({}), cache: new DataKeyCache<CachedKey>() });
  const input = { name, key: idKey(name), bytes: createReadStream(path) as AsyncIterable<Buffer> };
  const total = newBatch();
  let batches = 0;
  for await (const batch of collector.collect(input, 'das', { ingestTime: 1_714_600_000_000_000, batchSize, options })) {
    batches++;
    total.records += batch.records;
    total.events.push(...batch.events);
    total.rejected.push(...batch.rejected);
    for (const [k, n] of Object.entries(batch.skipped)) total.skipped[k] = (total.skipped[k] ?? 0) + n;
  }
  return { total, batches };
}
