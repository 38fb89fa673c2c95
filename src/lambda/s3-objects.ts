import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { isNotFound } from '../lake/s3-storage.js';
import { openStream } from '../pipeline/open-input.js';
import type { S3Event, S3EventRecord } from './events.js';
import { type IngestedInput, ingestOne } from './ingest-one.js';
import { logJson } from './log.js';
import { type Runtime, sharedRuntime } from './runtime.js';

/**
 * Lambda handler for S3 object-created notifications on a bucket of PostgreSQL log files: each object
 * is streamed (GetObject) through format detection (csvlog, jsonlog, RDS stderr, CloudWatch payloads,
 * DAS, proxy events; gzip by its bytes) into the lake. File names and event ids derive from the
 * object's content, so a repeated notification (S3 delivers at least once) replaces rather than
 * duplicates. If an object cannot be read or written, the others are still ingested and the
 * invocation then fails, so Lambda retries it.
 */

const runtime = sharedRuntime();

/** An object key as S3 sends it in notifications: URL-encoded, with spaces as `+`. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/** Ingests one notified object; null when it no longer exists. */
async function ingestObject(rt: Runtime, record: S3EventRecord): Promise<IngestedInput | null> {
  const bucket = record.s3.bucket.name;
  const key = decodeS3Key(record.s3.object.key);
  const name = `s3://${bucket}/${key}`;
  let body: Readable;
  let size: number;
  try {
    const out = await (await rt.storage.client()).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    body = out.Body as Readable;
    size = out.ContentLength ?? record.s3.object.size ?? 0;
  } catch (e) {
    // Deleted since it was notified: there is nothing to read, now or on a retry.
    if (isNotFound(e)) return null;
    throw e;
  }
  try {
    return await ingestOne(rt, await openStream(name, body, size), 'auto');
  } finally {
    body.destroy();
  }
}

export async function handler(event: S3Event): Promise<Record<string, unknown>> {
  const started = performance.now();
  const rt = await runtime();
  const inputs: (IngestedInput | { input: string; missing: true })[] = [];
  const failures: string[] = [];
  for (const record of event.Records ?? []) {
    if (!record.eventName?.startsWith('ObjectCreated') || record.s3.object.key.endsWith('/')) continue;
    try {
      inputs.push((await ingestObject(rt, record)) ?? { input: record.s3.object.key, missing: true });
    } catch (e) {
      failures.push((e as Error).message);
    }
  }
  const summary = { inputs, failures, duration_ms: Math.round(performance.now() - started) };
  logJson(failures.length > 0 ? 'error' : 'info', 's3 objects', summary);
  if (failures.length > 0) throw new Error(`${failures.length} object(s) not ingested: ${failures.join('; ')}`);
  return summary;
}
