import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DasKeyMaterial, decryptActivity } from '../../src/collectors/das/decrypt.js';
import { DecryptPool, decryptThreads } from '../../src/collectors/das/decrypt-pool.js';
import { encryptPayload } from '../support/das-encoder.js';

const dataKey = randomBytes(32);
const material = new DasKeyMaterial(dataKey);
const pool = DecryptPool.create(2);
afterAll(() => pool?.close());

describe('DAS decryption worker threads', () => {
  it('decrypt on worker threads exactly as on the main thread, spreading the work', async () => {
    expect(pool).not.toBeNull();
    const records = Array.from({ length: 24 }, (_, i) => ({ n: i, text: `select ${i}` }));
    const messages = await Promise.all(records.map((r) => encryptPayload(dataKey, gzipSync(JSON.stringify(r)))));
    // Every fourth message damaged: one byte of its body flipped.
    for (let i = 0; i < messages.length; i += 4) messages[i][messages[i].length >> 1] ^= 0x40;
    const inThread = await Promise.all(messages.map((m) => decryptActivity(material, m, null)));
    const onWorkers = await Promise.all(messages.map((m) => decryptActivity(material, m, pool)));
    expect(onWorkers).toEqual(inThread);
    expect(inThread.filter((r) => r.ok).map((r) => (r.ok ? r.record : null))).toEqual(records.filter((_, i) => i % 4 !== 0));
    expect(inThread.filter((r) => !r.ok)).toHaveLength(6);
    const perWorker = pool?.stats() ?? [];
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(24);
    expect(Math.min(...perWorker)).toBeGreaterThan(0);
  });

  it('takes its thread count from AUDITLAKE_DECRYPT_THREADS, refusing nonsense', () => {
    expect(decryptThreads({ AUDITLAKE_DECRYPT_THREADS: '0' })).toBe(0);
    expect(decryptThreads({ AUDITLAKE_DECRYPT_THREADS: '3' })).toBe(3);
    expect(() => decryptThreads({ AUDITLAKE_DECRYPT_THREADS: 'many' })).toThrow(/AUDITLAKE_DECRYPT_THREADS must be a whole number/);
    expect(decryptThreads({})).toBeGreaterThanOrEqual(0);
  });
});
