/**
 * DAS decryption throughput: `npx tsx bench/das.ts [--records 4000] [--events 10] [--keys 4] [--runs 3]`.
 *
 * Generates DAS Kinesis records as Aurora writes them (signed ESDK suite, gzip, a handful of data keys from the
 * local KMS endpoint), then measures in one run, interleaved:
 *  - the native floor: the one thing a record cannot do without, its ECDSA P-384 signature check, done by
 *    OpenSSL through `node:crypto` (public key decompressed with `ECDH.convertKey`, imported, `crypto.verify`
 *    over the message's signed bytes), one record after another on one core;
 *  - the SDK floor: AWS Encryption SDK decrypt + gunzip + JSON.parse of the same messages, sequentially,
 *    keyrings prebuilt, no pipeline (what the collector cost before it had its own decryptor);
 *  - the collector: envelope parse, strict base64, data-key cache (KMS once per key), decrypt, gunzip,
 *    JSON.parse, mapping to AuditEvents, through the decoder with bounded concurrency; and the same with every
 *    batch written to Parquet.
 * Prints records/s of each and the ratios against the native floor (target >= 0.8x for the whole pipeline).
 */

import { createPublicKey, ECDH, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildClient, CommitmentPolicy } from '@aws-crypto/client-node';
import { KMSClient } from '@aws-sdk/client-kms';
import { KMS_KEY_ID } from '../fixtures/das/generate-keys.js';
import { CLUSTER_ID, INSTANCE_ID, SERVER_FIELDS } from '../fixtures/das/sample-records.js';
import { createDasDecoder, type DasDecoder, type DasUnit } from '../src/collectors/das/decoder.js';
import { keyringFor } from '../src/collectors/das/decrypt.js';
import { sharedDecryptPool } from '../src/collectors/das/decrypt-pool.js';
import { mapOrdered } from '../src/collectors/das/ordered.js';
import { FsStorage } from '../src/lake/fs-storage.js';
import { LakeWriter } from '../src/lake/lake-writer.js';
import { idKey } from '../src/schema/index.js';
import { type DasDataKey, encodeDasRecord, generateDataKey } from '../test/support/das-encoder.js';
import { startKmsServer } from '../test/support/kms-server.js';

const { decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const COMMANDS = [
  ['READ', 'SELECT', 'select id, name, email from customers where id = $1'],
  ['WRITE', 'UPDATE', 'update orders set status = $1 where id = $2'],
  ['WRITE', 'INSERT', 'insert into events (kind, payload) values ($1, $2)'],
  ['READ', 'SELECT', 'select count(*) from orders where created_at > now() - interval $1'],
  ['DDL', 'CREATE INDEX', 'create index concurrently orders_status_idx on orders (status)'],
] as const;

/** A realistic decrypted record of `events` activity events. */
function activityRecord(n: number, events: number) {
  const list = [];
  for (let i = 0; i < events; i++) {
    const [cls, command, text] = COMMANDS[(n + i) % COMMANDS.length];
    const us = String((n * events + i) % 1_000_000).padStart(6, '0');
    list.push({
      type: 'record',
      class: cls,
      command,
      commandText: text,
      startTime: `2024-05-01 10:15:02.${us}+00`,
      logTime: `2024-05-01 10:15:03.${us}+00`,
      statementId: i + 1,
      substatementId: 1,
      objectType: 'TABLE',
      objectName: 'public.orders',
      databaseName: 'appdb',
      dbUserName: `app_user_${n % 7}`,
      remoteHost: '10.0.1.25',
      remotePort: String(40000 + (n % 20000)),
      sessionId: `6632152e.${(4000 + (n % 500)).toString(16)}`,
      pid: 4000 + (n % 500),
      rowCount: 1,
      paramList: ['42', 'shipped'],
      clientApplication: 'orders-api',
      exitCode: null,
      errorMessage: null,
      endTime: null,
      transactionId: String(1_000_000 + n),
      ...SERVER_FIELDS,
    });
  }
  return { type: 'DatabaseActivityMonitoringRecord', clusterId: CLUSTER_ID, instanceId: INSTANCE_ID, databaseActivityEventList: list };
}

/**
 * Kinesis record data (envelope JSON texts) for `records` records, spread over `keys.length` data keys. Signing
 * costs as much as verifying, so at most `unique` distinct messages are encrypted and then repeated: nothing on
 * the decrypt path caches a message, only data keys.
 */
export async function generateDasRecords(keys: DasDataKey[], records: number, events: number, unique = 500): Promise<string[]> {
  const distinct: string[] = [];
  for (let n = 0; n < Math.min(records, unique); n++)
    distinct.push(await encodeDasRecord(activityRecord(n, events), '1.2', keys[n % keys.length]));
  return Array.from({ length: records }, (_, n) => distinct[n % distinct.length]);
}

/**
 * The collector path: decodes envelope texts into events through `decoder`; returns the event count.
 * With a lake writer, every batch is also written, and the Parquet files are made durable at the end.
 */
export async function collectDas(decoder: DasDecoder, lines: string[], step = 256, lake?: LakeWriter): Promise<number> {
  const writer = lake?.input('das', 'bench:das');
  let events = 0;
  for (let i = 0; i < lines.length; i += step) {
    const units: DasUnit[] = lines
      .slice(i, i + step)
      .map((data, j) => ({ data, key: idKey('bench', i + j), ref: `bench:${i + j}`, resourceId: CLUSTER_ID }));
    const batch = await decoder.decodeUnits(units, 1_714_600_000_000_000);
    if (batch.rejected.length) throw new Error(`bench: rejected ${batch.rejected[0].reason}`);
    events += batch.events.length;
    await writer?.write(batch);
  }
  const manifest = await writer?.finish(idKey('bench-das', lines.length));
  if (manifest && manifest.events !== events) throw new Error(`bench: ${manifest.events} events written of ${events}`);
  return events;
}

/**
 * The floor: ESDK decrypt + gunzip + JSON.parse, keyrings known in advance, no envelope, no mapping, with
 * `inFlight` messages decrypted at once (1: strictly sequential). Part of the ESDK's work is asynchronous, so
 * overlapping messages is faster than one at a time even on one JS thread.
 */
async function floor(messages: { message: Buffer; keyIndex: number }[], keys: DasDataKey[], inFlight: number): Promise<number> {
  const keyrings = await Promise.all(keys.map((k) => keyringFor(k.plaintext)));
  let events = 0;
  const one = async ({ message, keyIndex }: { message: Buffer; keyIndex: number }) => {
    const { plaintext } = await decrypt(keyrings[keyIndex], message);
    return JSON.parse(gunzipSync(plaintext).toString('utf8')).databaseActivityEventList.length as number;
  };
  for await (const n of mapOrdered(messages, inFlight, one)) events += n;
  return events;
}

/** The signed bytes, signature and compressed public key of an ESDK message of the DAS suite. */
interface SignedParts {
  signed: Buffer;
  signature: Buffer;
  compressedKey: Buffer;
}

/** Splits a message into what its signature check needs (footer: uint16 length + DER signature). */
function signedParts(message: Buffer): SignedParts {
  for (let len = 110; len >= 64; len--) {
    const at = message.length - 2 - len;
    if (message.readUInt16BE(at) === len && message[at + 2] === 0x30) {
      // The encryption context is the first thing after the 22-byte fixed header: one pair, the public key.
      const keyLen = message.readUInt16BE(24);
      const valueLen = message.readUInt16BE(26 + keyLen);
      const compressedKey = Buffer.from(message.subarray(28 + keyLen, 28 + keyLen + valueLen).toString('latin1'), 'base64');
      return { signed: message.subarray(0, at), signature: message.subarray(at + 2), compressedKey };
    }
  }
  throw new Error('bench: no signature footer');
}

/**
 * The native floor: per record, decompress the public key (`ECDH.convertKey`), import it (JWK) and verify the
 * ECDSA P-384 signature over the signed bytes. Returns the records checked.
 */
function nativeFloor(parts: SignedParts[]): number {
  for (const p of parts) {
    const point = ECDH.convertKey(p.compressedKey, 'secp384r1', undefined, undefined, 'uncompressed') as Buffer;
    const key = createPublicKey({
      key: { kty: 'EC', crv: 'P-384', x: point.subarray(1, 49).toString('base64url'), y: point.subarray(49).toString('base64url') },
      format: 'jwk',
    });
    if (!verify('sha384', p.signed, key, p.signature)) throw new Error('bench: a signature did not verify');
  }
  return parts.length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function main(): Promise<void> {
  const records = arg('records', 4000);
  const events = arg('events', 10);
  const keyCount = arg('keys', 4);
  const runs = arg('runs', 3);
  const server = await startKmsServer({ keyFile: new URL('../fixtures/das/kms-keys.json', import.meta.url).pathname });
  try {
    const kms = new KMSClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    });
    const keys: DasDataKey[] = [];
    for (let i = 0; i < keyCount; i++) keys.push(await generateDataKey(kms, KMS_KEY_ID, CLUSTER_ID));
    let t = performance.now();
    const lines = await generateDasRecords(keys, records, events);
    const bytes = lines.reduce((n, l) => n + l.length, 0);
    console.log(
      `generated ${records} records x ${events} events (${(bytes / 1e6).toFixed(1)} MB of envelopes) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    const messages = lines.map((l, n) => ({
      message: Buffer.from(JSON.parse(l).databaseActivityEvents, 'base64'),
      keyIndex: (n % Math.min(records, 500)) % keys.length,
    }));

    const parts = messages.map((m) => signedParts(m.message));
    const nativeRates: number[] = [];
    const floorRates: number[] = [];
    const floor8Rates: number[] = [];
    const ourRates: number[] = [];
    const writeRates: number[] = [];
    const inThreadRates: number[] = [];
    let kmsCalls = 0;
    const lakeDir = mkdtempSync(join(tmpdir(), 'auditlake-bench-das-'));
    const lake = await LakeWriter.open(new FsStorage(lakeDir));
    for (let r = 0; r < runs; r++) {
      t = performance.now();
      nativeRates.push(nativeFloor(parts) / ((performance.now() - t) / 1000));
      t = performance.now();
      const floorEvents = await floor(messages, keys, 1);
      floorRates.push(floorEvents / ((performance.now() - t) / 1000));
      t = performance.now();
      floor8Rates.push((await floor(messages, keys, 8)) / ((performance.now() - t) / 1000));
      // A fresh decoder per run: its data-key cache starts cold, as a new process would.
      const before = server.calls.Decrypt ?? 0;
      const decoder = createDasDecoder({ kms, concurrency: 8 });
      t = performance.now();
      const ourEvents = await collectDas(decoder, lines);
      ourRates.push(ourEvents / ((performance.now() - t) / 1000));
      kmsCalls = (server.calls.Decrypt ?? 0) - before;
      if (ourEvents !== floorEvents) throw new Error(`bench: ${ourEvents} events vs ${floorEvents} in the floor`);
      t = performance.now();
      const written = await collectDas(createDasDecoder({ kms, concurrency: 8 }), lines, 256, lake);
      writeRates.push(written / ((performance.now() - t) / 1000));
      t = performance.now();
      const writtenInThread = await collectDas(createDasDecoder({ kms, concurrency: 8, pool: null }), lines, 256, lake);
      inThreadRates.push(writtenInThread / ((performance.now() - t) / 1000));
      console.log(
        `run ${r + 1} (records/s): native floor ${Math.round(nativeRates[r])}, SDK ${Math.round(floorRates[r] / events)}, SDK x8 ${Math.round(floor8Rates[r] / events)}, collector ${Math.round(ourRates[r] / events)}, collector + Parquet ${Math.round(writeRates[r] / events)} (main thread only ${Math.round(inThreadRates[r] / events)})`,
      );
    }
    const n = median(nativeRates);
    const rec = (eventsPerSecond: number) => eventsPerSecond / events;
    const f = rec(median(floorRates));
    const f8 = rec(median(floor8Rates));
    const o = rec(median(ourRates));
    const w = rec(median(writeRates));
    const wi = rec(median(inThreadRates));
    const row = (label: string, v: number) =>
      console.log(`${label.padEnd(58)} ${String(Math.round(v)).padStart(6)} records/s  ${(v / n).toFixed(2)}x`);
    console.log(`medians of ${runs} runs, ${events} events a record; ratios against the native floor:`);
    row('native floor (ECDSA P-384 verify, node:crypto, one core)', n);
    row('SDK decrypt + gunzip + JSON.parse, sequential', f);
    row('SDK decrypt + gunzip + JSON.parse, 8 in flight', f8);
    row('collector (decrypt + normalize)', o);
    row('collector + Parquet, decrypting on the main thread only', wi);
    row(`collector + Parquet, ${sharedDecryptPool()?.threads ?? 0} decryption threads (the whole DAS ingest)`, w);
    console.log(`whole DAS ingest / native floor: ${(w / n).toFixed(2)}x (target >= 0.8x); against the SDK floor: ${(w / f).toFixed(2)}x`);
    console.log(`KMS Decrypt calls per run: ${kmsCalls} for ${keyCount} data keys`);
    lake.connection.closeSync();
    rmSync(lakeDir, { recursive: true, force: true });
  } finally {
    await server.stop();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) await main();
