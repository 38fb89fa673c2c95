import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildHandler, HANDLERS } from '../../scripts/build-lambda.js';
import { startDasKms } from '../support/das-kms.js';
import type { KmsServer } from '../support/kms-server.js';
import { TestS3 } from '../support/s3.js';
import { copyLake, DAS_EVENT, DAS_EXPECTED_EVENTS } from './support.js';

/**
 * The bundled handlers (`dist/lambda/<handler>/index.mjs` as `npm run build:lambda` writes them, with
 * DuckDB's native library beside them) invoked with real-shaped events against s3rver and the local
 * KMS endpoint: the events land in the lake once, however often an event is delivered.
 */

const OUT = resolve('.tmp/lambda-bundles');
type Handler = (event: unknown) => Promise<unknown>;

/** Imports a bundled handler with the lake it writes to (read from the environment at import, as in Lambda). */
async function load(name: (typeof HANDLERS)[number], lakeUrl: string): Promise<Handler> {
  process.env.LAKE_URL = lakeUrl;
  const mod = (await import(pathToFileURL(join(OUT, name, 'index.mjs')).href)) as { handler: Handler };
  return mod.handler;
}

/** Runs a handler with stdout captured; returns its result and the JSON lines it logged. */
async function invoke(handler: Handler, event: unknown): Promise<{ result: unknown; logs: Record<string, unknown>[] }> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    const result = await handler(event);
    return {
      result,
      logs: lines
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    };
  } finally {
    spy.mockRestore();
  }
}

/** How S3 writes a key into a notification: URL-encoded, spaces as `+`. */
function notificationKey(key: string): string {
  return key
    .split('/')
    .map((part) => encodeURIComponent(part).replace(/%20/g, '+'))
    .join('/');
}

function objectCreated(bucket: string, key: string, size: number) {
  return { eventName: 'ObjectCreated:Put', s3: { bucket: { name: bucket }, object: { key: notificationKey(key), size, eTag: 'x' } } };
}

describe('bundled Lambda handlers', () => {
  let s3: TestS3;
  let kms: KmsServer;

  beforeAll(async () => {
    for (const handler of HANDLERS) await buildHandler(handler, OUT);
    // KMS first: it sets dummy credentials, and s3rver wants its own.
    kms = await startDasKms();
    s3 = await TestS3.start();
  });

  afterAll(async () => {
    // Reverse order of start: each puts back the environment it found.
    await s3?.close();
    await kms?.stop();
    delete process.env.LAKE_URL;
  });

  it('kinesis-das writes the batch once and acknowledges every record', async () => {
    const handler = await load('kinesis-das', 's3://lake/kinesis');
    const first = await invoke(handler, DAS_EVENT);
    expect(first.result).toEqual({ batchItemFailures: [] });
    expect(first.logs.at(-1)).toMatchObject({
      level: 'info',
      msg: 'kinesis batch',
      records: DAS_EVENT.Records.length,
      events: DAS_EXPECTED_EVENTS,
      quarantined: 0,
      failed_records: 0,
      kms_calls: 2,
    });
    let lake = await copyLake('s3://lake/kinesis');
    expect(await lake.events("source = 'das'")).toEqual({ n: DAS_EXPECTED_EVENTS, distinct: DAS_EXPECTED_EVENTS });
    await lake.cleanup();

    // Delivered again (a retry after a timeout): the same units are replaced, and the data keys come from the cache.
    const again = await invoke(handler, DAS_EVENT);
    expect(again.result).toEqual({ batchItemFailures: [] });
    expect(again.logs.at(-1)).toMatchObject({ events: DAS_EXPECTED_EVENTS, kms_calls: 0 });
    lake = await copyLake('s3://lake/kinesis');
    expect(await lake.events()).toEqual({ n: DAS_EXPECTED_EVENTS, distinct: DAS_EXPECTED_EVENTS });
    expect(lake.keys.filter((k) => k.startsWith('_state/manifests/'))).toHaveLength(2);
    await lake.cleanup();
  });

  it('cloudwatch-logs reads a subscription delivery into the lake, with its alerts', async () => {
    const expected = JSON.parse(await readFile('fixtures/pgaudit/pg15-rds.cloudwatch.json.expected.json', 'utf8'));
    const event = JSON.parse(await readFile('fixtures/pgaudit/pg15-rds.cloudwatch.json', 'utf8'));
    const handler = await load('cloudwatch-logs', 's3://lake/cwl');
    for (let delivery = 0; delivery < 2; delivery++) {
      const { result } = await invoke(handler, event);
      expect(result).toMatchObject({ format: 'cloudwatch', records: expected.records, events: expected.events.length, quarantined: 0 });
      const lake = await copyLake('s3://lake/cwl');
      const n = expected.events.length;
      expect(await lake.events("source = 'pgaudit' AND source_format = 'cloudwatch'")).toEqual({ n, distinct: n });
      // The same alerts `auditlake ingest --rules rules` raises for this input.
      expect(await lake.alerts()).toBe(16);
      await lake.cleanup();
    }
  });

  it('s3-objects streams notified objects (plain and gzip, encoded keys) once each', async () => {
    const csv = await readFile('fixtures/pgaudit/pg15.csv');
    const gz = gzipSync(await readFile('fixtures/pgaudit/pg13.csv'));
    await s3.put('logs', 'rds/pg15 log+1.csv', csv);
    await s3.put('logs', 'rds/pg13 (old).csv.gz', gz);
    const event = {
      Records: [
        objectCreated('logs', 'rds/pg15 log+1.csv', csv.length),
        objectCreated('logs', 'rds/pg13 (old).csv.gz', gz.length),
        objectCreated('logs', 'rds/deleted-since.csv', 10),
      ],
    };
    const handler = await load('s3-objects', 's3://lake/objects');
    for (let delivery = 0; delivery < 2; delivery++) {
      const { result } = await invoke(handler, event);
      const inputs = (result as { inputs: Record<string, unknown>[] }).inputs;
      expect(inputs).toMatchObject([
        { input: 's3://logs/rds/pg15 log+1.csv', format: 'csvlog', records: 152, events: 111, quarantined: 0, alerts: 16 },
        // The PostgreSQL 13 fixture holds the same session lines as the 15 one: stored once, counted as duplicates.
        {
          input: 's3://logs/rds/pg13 (old).csv.gz',
          format: 'csvlog',
          records: 152,
          events: 0,
          duplicates: 111,
          quarantined: 0,
          alerts: 16,
        },
        { input: 'rds/deleted-since.csv', missing: true },
      ]);
      const lake = await copyLake('s3://lake/objects');
      expect(await lake.events("source = 'pgaudit'")).toEqual({ n: 111, distinct: 111 });
      expect(await lake.alerts()).toBe(32);
      await lake.cleanup();
    }
  });

  it('s3-objects fails the invocation when S3 is unreachable, so Lambda retries it', async () => {
    const handler = await load('s3-objects', 's3://lake/objects');
    await s3.stop();
    try {
      await expect(handler({ Records: [objectCreated('logs', 'rds/pg15 log+1.csv', 1)] })).rejects.toThrow(/not ingested/);
    } finally {
      await s3.restart();
    }
  });
});
