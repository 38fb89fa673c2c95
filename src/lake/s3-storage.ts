import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
// Types only: the SDK itself is loaded by the first S3 call (`import()` below), so a run that never
// touches S3 (a local ingest, --help) does not spend the time and memory of loading it.
import type { CompletedPart, S3Client, ServerSideEncryption } from '@aws-sdk/client-s3';
import { parseS3Url } from './s3-url.js';
import type { Storage, StoredObject } from './storage.js';

export { isS3Url, parseS3Url, type S3Location } from './s3-url.js';

/**
 * Attempts per request unless `AWS_MAX_ATTEMPTS` says otherwise: the SDK's standard mode (or
 * `AWS_RETRY_MODE`) backs off with jitter on throttling, 5xx and connection errors.
 */
export const S3_MAX_ATTEMPTS = 5;

/** Parts of one multipart upload sent at once (memory: this many parts). */
export const S3_UPLOAD_CONCURRENCY = 4;

/**
 * An S3 client built the SDK's default way, so `AWS_REGION`, `AWS_ENDPOINT_URL_S3` (or
 * `AWS_ENDPOINT_URL`), credentials and `AWS_REQUEST_CHECKSUM_CALCULATION` come from the environment.
 * An IP-address endpoint gets path-style addressing from the SDK itself. Async: the SDK is loaded here.
 */
export async function s3Client(): Promise<S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client(process.env.AWS_MAX_ATTEMPTS ? {} : { maxAttempts: S3_MAX_ATTEMPTS });
  // Outside the retry loop: a failure that survived every attempt names the call, the object and the attempts.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (e) {
        const err = e as Error & { $metadata?: { attempts?: number } };
        if (err instanceof Error && !isNotFound(err)) {
          const input = args.input as { Bucket?: string; Key?: string; Prefix?: string };
          const attempts = err.$metadata?.attempts ?? 1;
          const operation = (context.commandName ?? 'S3 call').replace(/Command$/, '');
          err.message = `${operation} s3://${input.Bucket ?? ''}/${input.Key ?? input.Prefix ?? ''}: ${err.message}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`;
        }
        throw e;
      }
    },
    { step: 'initialize', name: 'describeFailures', override: true },
  );
  return client;
}

/** True when an SDK error means the object (or key) does not exist. */
export function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404;
}

/** How objects are written. */
export interface S3StorageOptions {
  /** Files at least this large are uploaded in parts (default 32 MiB). */
  multipartThreshold: number;
  /** Size of each uploaded part (default 16 MiB; S3's minimum is 5 MiB). */
  partSize: number;
  /** KMS key id or ARN: SSE-KMS instead of the default SSE-S3 (AES256). */
  sseKmsKeyId?: string;
}

export const DEFAULT_S3_STORAGE: S3StorageOptions = { multipartThreshold: 32 * 1024 * 1024, partSize: 16 * 1024 * 1024 };

const MIN_PART_SIZE = 5 * 1024 * 1024;

/**
 * The lake in S3 under `s3://bucket/prefix`. Every write is one whole object, so readers see the old
 * object or the new one: a single PutObject for small files, a multipart upload for large ones (aborted
 * on any failure, so no partial object appears). Every write asks for server-side encryption.
 */
export class S3Storage implements Storage {
  readonly bucket: string;
  readonly prefix: string;
  readonly options: S3StorageOptions;
  private staging: Promise<string> | null = null;
  private s3: Promise<S3Client> | null;

  constructor(
    readonly url: string,
    options: Partial<S3StorageOptions> = {},
    client?: S3Client,
  ) {
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Url(url));
    this.options = { ...DEFAULT_S3_STORAGE, ...options };
    if (this.options.partSize < MIN_PART_SIZE) throw new Error(`S3 part size must be at least ${MIN_PART_SIZE} bytes`);
    this.s3 = client ? Promise.resolve(client) : null;
  }

  /** The storage's S3 client ({@link s3Client} unless one was given), built by the first call. */
  client(): Promise<S3Client> {
    this.s3 ??= s3Client();
    return this.s3;
  }

  private objectKey(key: string): string {
    if (key.startsWith('/') || key.split('/').includes('..')) throw new Error(`key escapes the lake: ${key}`);
    return this.prefix + key;
  }

  /** The encryption headers every write carries. */
  private encryption(): { ServerSideEncryption: ServerSideEncryption; SSEKMSKeyId?: string } {
    return this.options.sseKmsKeyId
      ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: this.options.sseKmsKeyId }
      : { ServerSideEncryption: 'AES256' };
  }

  async putFile(key: string, localPath: string): Promise<void> {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const client = await this.client();
    const { size } = await stat(localPath);
    const file = await open(localPath, 'r');
    try {
      if (size < this.options.multipartThreshold) {
        // Small enough to hold: a Buffer body has a known length and needs no chunked encoding.
        const body = await file.readFile();
        await client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: body, ...this.encryption() }));
      } else {
        await this.putMultipart(this.objectKey(key), file, size);
      }
    } finally {
      await file.close();
    }
    await rm(localPath, { force: true });
  }

  /**
   * Uploads a file in parts, up to {@link S3_UPLOAD_CONCURRENCY} at once, each read into its own buffer
   * (memory: that many parts); aborts the upload on any failure.
   */
  private async putMultipart(objectKey: string, file: import('node:fs/promises').FileHandle, size: number): Promise<void> {
    const { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } = await import(
      '@aws-sdk/client-s3'
    );
    const client = await this.client();
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: objectKey, ...this.encryption() }));
    const uploadId = created.UploadId;
    if (!uploadId) throw new Error(`S3 returned no upload id for ${objectKey}`);
    const partSize = this.options.partSize;
    const count = Math.ceil(size / partSize);
    const parts: CompletedPart[] = new Array(count);
    let next = 0;
    let failed = false;
    const worker = async () => {
      const buffer = Buffer.alloc(Math.min(partSize, size));
      while (!failed && next < count) {
        const i = next++;
        const offset = i * partSize;
        const { bytesRead } = await file.read(buffer, 0, Math.min(partSize, size - offset), offset);
        const part = await client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: objectKey,
            UploadId: uploadId,
            PartNumber: i + 1,
            Body: buffer.subarray(0, bytesRead),
          }),
        );
        parts[i] = { PartNumber: i + 1, ETag: part.ETag };
      }
    };
    try {
      const workers = Array.from({ length: Math.min(S3_UPLOAD_CONCURRENCY, count) }, () =>
        worker().catch((e) => {
          failed = true;
          throw e;
        }),
      );
      const settled = await Promise.allSettled(workers);
      const rejected = settled.find((r) => r.status === 'rejected');
      if (rejected) throw (rejected as PromiseRejectedResult).reason;
      await client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: objectKey, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      );
    } catch (e) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: objectKey, UploadId: uploadId })).catch(() => {});
      throw e;
    }
  }

  async putBytes(key: string, body: Buffer | string): Promise<void> {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const client = await this.client();
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    await client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: bytes, ...this.encryption() }));
  }

  async get(key: string): Promise<Buffer | null> {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const client = await this.client();
    try {
      const out = await client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return Buffer.from(await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async download(key: string, localPath: string): Promise<boolean> {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const client = await this.client();
    let body: Readable;
    try {
      const out = await client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      body = out.Body as Readable;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
    await pipeline(body, createWriteStream(localPath));
    return true;
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.listObjects(prefix)).map((o) => o.key);
  }

  async listObjects(prefix: string): Promise<StoredObject[]> {
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const client = await this.client();
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.objectKey(prefix), ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key.slice(this.prefix.length), size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async rename(from: string, to: string): Promise<boolean> {
    const { CopyObjectCommand } = await import('@aws-sdk/client-s3');
    const client = await this.client();
    try {
      await client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(to),
          CopySource: encodeURI(`${this.bucket}/${this.objectKey(from)}`),
          ...this.encryption(),
        }),
      );
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
    await this.delete(from);
    return true;
  }

  /**
   * Conditional writes for the lake lock (`lake-lock.ts`): stores `body` only when there is no object
   * (`ifMatch` undefined: `If-None-Match: *`) or when the object's ETag is `ifMatch`. Returns the new
   * ETag, or null when the condition failed (412, or 409 for a concurrent conditional write).
   */
  async putConditional(key: string, body: string, ifMatch?: string): Promise<string | null> {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const client = await this.client();
    try {
      const out = await client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          Body: Buffer.from(body, 'utf8'),
          ...(ifMatch === undefined ? { IfNoneMatch: '*' } : { IfMatch: ifMatch }),
          ...this.encryption(),
        }),
      );
      return out.ETag ?? '';
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return null;
      throw e;
    }
  }

  /** An object's bytes and ETag, or null when there is none. */
  async getWithEtag(key: string): Promise<{ body: Buffer; etag: string } | null> {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const client = await this.client();
    try {
      const out = await client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      const body = Buffer.from(await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
      return { body, etag: out.ETag ?? '' };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    const client = await this.client();
    await client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
  }

  localPath(): null {
    return null;
  }

  /** A private temporary directory, made once per storage and removed by {@link close}. */
  stagingDir(): Promise<string> {
    this.staging ??= mkdtemp(join(tmpdir(), 'auditlake-s3-'));
    return this.staging;
  }

  async close(): Promise<void> {
    const staging = this.staging;
    this.staging = null;
    if (staging) await rm(await staging, { recursive: true, force: true });
  }
}
