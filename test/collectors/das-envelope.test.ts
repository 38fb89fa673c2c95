import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataKeyCache } from '../../src/collectors/das/data-key-cache.js';
import { decodeBase64Strict, parseEnvelope } from '../../src/collectors/das/envelope.js';
import { encryptionContextFor, resourceIdFromStream } from '../../src/collectors/das/kms.js';
import { readLines } from '../../src/collectors/das/lines.js';

async function* chunks(bytes: Buffer, cuts: number[]) {
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    yield bytes.subarray(at, Math.max(at, cut));
    at = Math.max(at, cut);
  }
  yield bytes.subarray(at);
}

describe('DAS envelope', () => {
  it('decodes base64 strictly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(decodeBase64Strict(Buffer.from(bytes).toString('base64'))).toEqual(Buffer.from(bytes));
      }),
    );
    for (const bad of ['QUJD*', 'QU JD', 'QUJ', 'QUJD\n', 'QU=D', '-_-_']) expect(decodeBase64Strict(bad)).toBeNull();
  });

  it('never throws on arbitrary input, and explains every refusal', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        const result = parseEnvelope(text);
        if (!result.ok) expect(result.reason.length).toBeGreaterThan(0);
      }),
    );
  });

  it('accepts the known versions, refuses another one by name, and names what is missing', () => {
    const env = { type: 'DatabaseActivityMonitoringRecords', version: '1.2', databaseActivityEvents: 'QUJD', key: 'S0VZ' };
    for (const version of ['1.0', '1.1', '1.2'])
      expect(parseEnvelope(JSON.stringify({ ...env, version }))).toMatchObject({ ok: true, envelope: { version, key: 'S0VZ' } });
    expect(parseEnvelope(JSON.stringify({ ...env, version: '1.3' }))).toEqual({
      ok: false,
      reason: 'unknown envelope version "1.3" (known: 1.0, 1.1, 1.2)',
    });
    expect(parseEnvelope(JSON.stringify({ ...env, version: 1.1 }))).toEqual({ ok: false, reason: 'envelope has no version' });
    expect(parseEnvelope(JSON.stringify({ ...env, key: undefined }))).toEqual({ ok: false, reason: 'envelope has no key' });
    expect(parseEnvelope('[]')).toEqual({ ok: false, reason: 'envelope is not a JSON object' });
    expect(parseEnvelope('  ')).toEqual({ ok: false, reason: 'empty record' });
  });

  it('derives the resource id and its encryption context', () => {
    expect(resourceIdFromStream('aws-rds-das-cluster-ABC')).toBe('cluster-ABC');
    expect(resourceIdFromStream('arn:aws:kinesis:us-east-1:1:stream/aws-rds-das-db-XYZ')).toBe('db-XYZ');
    expect(resourceIdFromStream('other-stream')).toBeNull();
    expect(encryptionContextFor('cluster-ABC')).toEqual({ 'aws:rds:dbc-id': 'cluster-ABC' });
    expect(encryptionContextFor('db-XYZ')).toEqual({ 'aws:rds:db-id': 'db-XYZ' });
  });
});

describe('line splitting', () => {
  it('yields the same lines whatever the chunk boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: fc.constantFrom('a', 'é', '\n', '\r', '{') }), { maxLength: 8 }),
        fc.array(fc.nat(60)),
        async (parts, cuts) => {
          const text = parts.join('');
          const expected =
            text === ''
              ? []
              : (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
          const got: string[] = [];
          for await (const line of readLines(chunks(Buffer.from(text), cuts))) got.push(line.text);
          expect(got).toEqual(expected);
        },
      ),
    );
  });

  it('bounds a line that is too long', async () => {
    const long = Buffer.from(`${'x'.repeat(5000)}\nok\n`);
    const got = [];
    for await (const line of readLines(chunks(long, [100, 2000, 4999]), 1000)) got.push(line);
    expect(got.map((l) => [l.text.length, l.tooLong, l.lineNo])).toEqual([
      [1024, 5000, 1],
      [2, undefined, 2],
    ]);
  });
});

describe('data key cache', () => {
  it('coalesces, expires, evicts, and forgets failed loads', async () => {
    let now = 0;
    const cache = new DataKeyCache<number>({ maxEntries: 2, ttlMs: 100, now: () => now });
    let loads = 0;
    const load = async () => ++loads;
    expect(await Promise.all([cache.get('a', load), cache.get('a', load)])).toEqual([1, 1]);
    now = 150;
    expect(await cache.get('a', load)).toBe(2);
    await cache.get('b', load);
    await cache.get('c', load);
    expect(cache.stats()).toMatchObject({ size: 2, evictions: 1 });
    await expect(cache.get('d', () => Promise.reject(new Error('throttled')))).rejects.toThrow('throttled');
    expect(await cache.get('d', load)).toBe(5);
  });
});
