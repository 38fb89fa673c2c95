import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { downloadLake } from '../support/s3.js';

/** A Lambda Kinesis event record, as the event source mapping sends it. */
export interface KinesisRecord {
  eventID: string;
  eventSourceARN: string;
  kinesis: { data: string; sequenceNumber: string; partitionKey: string };
}

export const DAS_EVENT = JSON.parse(await readFile('fixtures/das/lambda-kinesis-event.json', 'utf8')) as { Records: KinesisRecord[] };
const DAS_EXPECTED = JSON.parse(await readFile('fixtures/das/lambda-kinesis-event.expected.json', 'utf8')) as {
  events: { source_ref: string }[];
};

/** Events the fixture expects of each record, by sequence number. */
export const EVENTS_BY_SEQUENCE: Record<string, number> = {};
for (const e of DAS_EXPECTED.events) {
  const seq = e.source_ref.split('#')[0].split('/').at(-1) as string;
  EVENTS_BY_SEQUENCE[seq] = (EVENTS_BY_SEQUENCE[seq] ?? 0) + 1;
}
export const DAS_EXPECTED_EVENTS = DAS_EXPECTED.events.length;

/** The stream ARN of a DAS stream of `resourceId`. */
export function streamArn(resourceId: string): string {
  return `arn:aws:kinesis:us-east-1:000000000000:stream/aws-rds-das-${resourceId}`;
}

/** A Kinesis event record carrying `data` (base64) at a shard and sequence number. */
export function kinesisRecord(data: string, shard: number, sequenceNumber: string, stream: string): KinesisRecord {
  const shardId = `shardId-${String(shard).padStart(12, '0')}`;
  return { eventID: `${shardId}:${sequenceNumber}`, eventSourceARN: stream, kinesis: { data, sequenceNumber, partitionKey: 'p' } };
}

/** Runs SQL over a lake folder with `auditlake query`; returns the rows. */
export async function query(dir: string, sql: string): Promise<Record<string, unknown>[]> {
  let out = '';
  let err = '';
  const code = await runCli(['query', '--lake', dir, '--format', 'json', sql], {
    out: (t) => (out += t),
    err: (t) => (err += t),
    tty: false,
  });
  if (code !== 0) throw new Error(`query failed: ${err}`);
  return JSON.parse(out);
}

/** A snapshot of an S3 lake: its keys, and a local copy to query. */
export interface LakeCopy {
  keys: string[];
  dir: string;
  events(where?: string): Promise<{ n: number; distinct: number }>;
  alerts(): Promise<number>;
  /** The quarantine's lines, parsed. */
  quarantine(): Promise<{ source_ref: string; reason: string }[]>;
  cleanup(): Promise<void>;
}

/** Downloads an S3 lake into a temporary folder. */
export async function copyLake(url: string): Promise<LakeCopy> {
  const dir = await mkdtemp(join(tmpdir(), 'auditlake-lambda-lake-'));
  const keys = await downloadLake(url, dir);
  return {
    keys,
    dir,
    async events(where = 'true') {
      if (!keys.some((k) => k.startsWith('events/'))) return { n: 0, distinct: 0 };
      const [row] = await query(dir, `SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM audit_events WHERE ${where}`);
      return { n: Number(row.n), distinct: Number(row.d) };
    },
    async alerts() {
      if (!keys.some((k) => k.startsWith('alerts/'))) return 0;
      const [row] = await query(dir, 'SELECT count(*) AS n FROM audit_alerts');
      return Number(row.n);
    },
    async quarantine() {
      const lines: { source_ref: string; reason: string }[] = [];
      for (const key of keys.filter((k) => k.startsWith('_quarantine/'))) {
        for (const line of (await readFile(join(dir, key), 'utf8')).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      }
      return lines;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
