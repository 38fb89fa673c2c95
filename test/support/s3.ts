import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3Storage, s3Client } from '../../src/lake/s3-storage.js';

/** The parts of s3rver's API the tests use (the package ships no types). */
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  on(
    event: 'event',
    listener: (e: { Records: { eventName: string; s3: { bucket: { name: string }; object: { key: string } } }[] }) => void,
  ): void;
  httpServer?: import('node:http').Server;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverServer;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

/** The environment the SDK reads: endpoint, region, dummy credentials, no flexible checksums (s3rver). */
function s3Env(port: number): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    // s3rver stores the aws-chunked framing of streamed uploads inside the object unless this is set.
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
  };
}

/** An in-process s3rver with the buckets `lake` and `logs`, reached only through the SDK's environment variables. */
export class TestS3 {
  private server: S3rverServer | null = null;
  private saved: Record<string, string | undefined> = {};
  port = 0;
  /** Object-created and -removed events s3rver reports, in order. */
  readonly events: { name: string; bucket: string; key: string }[] = [];
  /** Every request the server received: method, path with query, headers (as sent on the wire). */
  readonly requests: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];
  /** Called for each event (tests use it to stop the server at a chosen moment). */
  onEvent: ((e: { name: string; bucket: string; key: string }) => void) | null = null;

  private constructor(
    readonly directory: string,
    readonly conditionalWrites: boolean,
  ) {}

  /**
   * Starts s3rver. s3rver ignores `If-None-Match`/`If-Match` on PutObject (last write wins); with
   * `conditionalWrites`, requests carrying them are answered as S3 does (412 Precondition Failed when the
   * object exists, or its ETag differs), each check and its write serialized per key, so racing writers
   * can be tested. Unconditional requests pass through untouched.
   */
  static async start(options: { conditionalWrites?: boolean } = {}): Promise<TestS3> {
    const s3 = new TestS3(await mkdtemp(join(tmpdir(), 'auditlake-s3rver-')), options.conditionalWrites ?? false);
    await s3.listen(0);
    for (const [k, v] of Object.entries(s3Env(s3.port))) {
      s3.saved[k] = process.env[k];
      process.env[k] = v;
    }
    return s3;
  }

  private async listen(port: number): Promise<void> {
    const server = new S3rver({
      port,
      address: '127.0.0.1',
      silent: true,
      directory: this.directory,
      configureBuckets: [{ name: 'lake' }, { name: 'logs' }],
    });
    const handler = server.callback.bind(server);
    server.callback = () => {
      const handle = handler();
      return (req, res) => {
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
        const conditional = req.headers['if-none-match'] !== undefined || req.headers['if-match'] !== undefined;
        if (this.conditionalWrites && req.method === 'PUT' && conditional) void this.conditionalPut(req, res, handle);
        else handle(req, res);
      };
    };
    server.on('event', (e) => {
      for (const r of e.Records) {
        const event = { name: r.eventName, bucket: r.s3.bucket.name, key: decodeURIComponent(r.s3.object.key) };
        this.events.push(event);
        this.onEvent?.(event);
      }
    });
    this.port = (await server.run()).port;
    this.server = server;
  }

  private readonly keyQueues = new Map<string, Promise<void>>();
  private headClient: S3Client | null = null;

  /** A conditional PutObject as S3 answers it: the precondition is checked and the write done with no other conditional write to the key in between. */
  private async conditionalPut(
    req: IncomingMessage,
    res: ServerResponse,
    handle: (req: IncomingMessage, res: ServerResponse) => void,
  ): Promise<void> {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]).slice(1);
    const slash = path.indexOf('/');
    const [bucket, key] = [path.slice(0, slash), path.slice(slash + 1)];
    const previous = this.keyQueues.get(path) ?? Promise.resolve();
    let release = () => {};
    const turn = new Promise<void>((r) => (release = r));
    this.keyQueues.set(path, turn);
    await previous;
    res.once('close', release);
    try {
      this.headClient ??= await s3Client();
      const etag = await this.headClient
        .send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
        .then((h) => h.ETag?.replaceAll('"', '') ?? '')
        .catch((e) => {
          if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return null;
          throw e;
        });
      const ifNoneMatch = req.headers['if-none-match'];
      const ifMatch = req.headers['if-match']?.replaceAll('"', '');
      const failed = (ifNoneMatch === '*' && etag !== null) || (ifMatch !== undefined && etag !== ifMatch);
      if (!failed) return handle(req, res);
      req.resume();
      res.writeHead(412, { 'content-type': 'application/xml' });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>',
      );
    } catch (e) {
      res.writeHead(500);
      res.end(String(e));
    }
  }

  /** Stops the server and drops its open connections (clients see refused or reset connections). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = server.close();
    server.httpServer?.closeAllConnections();
    await closed;
  }

  /** Starts the server again on the same port and directory (the objects are still there). */
  async restart(): Promise<void> {
    await this.stop();
    await this.listen(this.port);
  }

  /** Uploads bytes to a bucket. */
  async put(bucket: string, key: string, body: Buffer | string): Promise<void> {
    const client = await s3Client();
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: typeof body === 'string' ? Buffer.from(body) : body }));
    client.destroy();
  }

  async close(): Promise<void> {
    this.headClient?.destroy();
    await this.stop();
    for (const [k, v] of Object.entries(this.saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(this.directory, { recursive: true, force: true });
  }
}

/** Copies every object of an S3 lake into a local folder with the same layout (as `aws s3 sync` would). */
export async function downloadLake(url: string, dir: string): Promise<string[]> {
  const storage = new S3Storage(url);
  const keys = await storage.list('');
  for (const key of keys) {
    await mkdir(dirname(join(dir, key)), { recursive: true });
    await storage.download(key, join(dir, key));
  }
  (await storage.client()).destroy();
  return keys;
}
