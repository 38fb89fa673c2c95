import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { LakeWriter } from '../lake/lake-writer.js';
import { STATE_PREFIX } from '../lake/layout.js';
import { s3Client } from '../lake/s3-storage.js';
import { parseS3Prefix } from '../lake/s3-url.js';
import { readState } from '../lake/state.js';
import type { Storage } from '../lake/storage.js';
import { idKey } from '../schema/index.js';
import { type IngestOptions, type InputSet, type InputSetResult, ingestInput } from './ingest.js';
import { openStream } from './open-input.js';
import { newInputStats } from './stats.js';

/**
 * Log files in S3 as inputs: `s3://bucket/prefix` names every object under the prefix. Each object is
 * streamed (GetObject body -> `openStream`, gzip detected by its bytes) through the same collectors as
 * a local file. What was ingested (key and ETag) is remembered in the lake's `_state/s3-inputs/`, written
 * after each object's events are durable, so a scheduled re-run reads only new or changed objects.
 */

/** The remembered objects of one input prefix, as stored. */
export const s3InputStateSchema = z.looseObject({
  prefix: z.string(),
  /** ETag of every object ingested completely, by key. */
  objects: z.record(z.string(), z.string()),
});

/** The remembered objects of one input prefix. */
export type S3InputState = z.infer<typeof s3InputStateSchema>;

/** Key of the state of an input prefix in the lake. */
export function s3InputStateKey(url: string): string {
  return `${STATE_PREFIX}s3-inputs/${idKey('s3-input', url)}.json`;
}

/** Bucket and raw key prefix of an input URL (a prefix, not a folder: `s3://b/logs/pg` matches `logs/pg-1.log`). */
export const parseInputUrl = parseS3Prefix;

interface Listed {
  key: string;
  etag: string;
  size: number;
}

async function* listInputs(client: S3Client, bucket: string, prefix: string): AsyncGenerator<Listed[]> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    yield (page.Contents ?? [])
      .filter((o) => o.Key && !o.Key.endsWith('/'))
      .map((o) => ({ key: o.Key as string, etag: o.ETag ?? '', size: o.Size ?? 0 }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

async function loadState(storage: Storage, url: string): Promise<S3InputState> {
  return (await readState(storage, s3InputStateKey(url), s3InputStateSchema)) ?? { prefix: url, objects: {} };
}

/** Ingests the new and changed objects under an S3 prefix into the lake. */
export async function ingestS3Prefix(
  url: string,
  lake: LakeWriter,
  options: IngestOptions,
  bySource: Record<string, Record<string, number>>,
  given?: S3Client,
): Promise<InputSetResult> {
  // The SDK is loaded here, by the first S3 input, not when the CLI starts.
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const client = given ?? (await s3Client());
  const { bucket, prefix } = parseInputUrl(url);
  const state = await loadState(lake.storage, url);
  const result: InputSetResult = { inputs: [], alerts: 0, alreadyIngested: 0 };
  for await (const page of listInputs(client, bucket, prefix)) {
    for (const object of page) {
      if (state.objects[object.key] === object.etag) {
        result.alreadyIngested++;
        continue;
      }
      const name = `s3://${bucket}/${object.key}`;
      let body: Readable;
      try {
        // IfMatch: read the version that was listed, so the ETag remembered is the one of the bytes read.
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.key, IfMatch: object.etag || undefined }));
        body = out.Body as Readable;
      } catch (e) {
        const stats = newInputStats(name);
        stats.error = `cannot read ${name}: ${(e as Error).message}`;
        result.inputs.push(stats);
        continue;
      }
      try {
        const input = await openStream(name, body, object.size);
        const done = await ingestInput(input, lake, options, bySource);
        result.inputs.push(done.stats);
        result.alerts += done.alerts;
        if (input.failure) {
          // What was read is in the lake; the object is not remembered, so the next run reads it whole again.
          done.stats.error ??= `${name} failed after ${input.failure.offset} bytes: ${input.failure.message}; it is read again on the next run`;
          continue;
        }
      } finally {
        body.destroy();
      }
      state.objects[object.key] = object.etag;
      await lake.storage.putBytes(s3InputStateKey(url), `${JSON.stringify(state, null, 2)}\n`);
    }
  }
  return result;
}

/** An S3 prefix as one of a run's input sets. */
export function s3InputSet(url: string, client?: S3Client): InputSet {
  return { name: url, ingest: (lake, options, bySource) => ingestS3Prefix(url, lake, options, bySource, client) };
}
