import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_ID } from '../../fixtures/das/sample-records.js';
import type { Collector } from '../../src/collectors/contract.js';
import { COLLECTORS, detectFormat } from '../../src/collectors/registry.js';
import type { Batch } from '../../src/schema/index.js';
import { startDasKms } from '../support/das-kms.js';
import type { KmsServer } from '../support/kms-server.js';

/**
 * The contract every collector keeps, checked on every fixture it reads: each record is accounted for
 * (event, quarantined or counted skip), event ids are unique, and the result does not depend on how
 * the bytes are cut into chunks or on the batch size.
 */

const SKIP = /\.(ts|md)$|\.expected\.json$|\.workload\.json$|kms-keys\.json$/;

function fixtureFiles(): { path: string; bytes: Buffer }[] {
  const out: { path: string; bytes: Buffer }[] = [];
  for (const area of readdirSync('fixtures')) {
    for (const name of readdirSync(join('fixtures', area))) {
      if (SKIP.test(name)) continue;
      const path = join('fixtures', area, name);
      const raw = readFileSync(path);
      out.push({ path, bytes: raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw });
    }
  }
  return out;
}

/** Options a fixture needs: DAS JSON Lines name their cluster, as a user passes --das-resource-id. */
function optionsFor(path: string): Record<string, unknown> {
  return path.endsWith('.jsonl') && path.includes('/das/') ? { resourceId: CLUSTER_ID } : {};
}

async function run(
  collector: Collector,
  format: string,
  bytes: Buffer,
  cuts: number[],
  batchSize: number,
  options: Record<string, unknown>,
) {
  async function* chunks() {
    let at = 0;
    for (const cut of [...cuts, bytes.length]) {
      if (cut > at) yield bytes.subarray(at, cut);
      at = Math.max(at, cut);
    }
  }
  const batches: Batch[] = [];
  for await (const b of collector.collect({ name: 'input', key: 'f'.repeat(20), bytes: chunks() }, format, {
    ingestTime: 0,
    batchSize,
    options,
  }))
    batches.push(b);
  const events = batches.flatMap((b) => b.events);
  const rejected = batches.flatMap((b) => b.rejected);
  const records = batches.reduce((n, b) => n + b.records, 0);
  const skipped = batches.reduce((n, b) => n + Object.values(b.skipped).reduce((x, y) => x + y, 0), 0);
  return { events, rejected, records, skipped };
}

describe('collector contract', () => {
  let kms: KmsServer;
  beforeAll(async () => {
    kms = await startDasKms();
  });
  afterAll(() => kms?.stop());

  const cases = fixtureFiles()
    .map((f) => ({ ...f, detected: detectFormat(f.bytes.subarray(0, 65536).toString('utf8')) }))
    .filter((f) => f.detected !== null);

  it('covers a fixture for every collector that has fixtures', () => {
    const kinds = new Set(cases.map((c) => c.detected?.collector.kind));
    expect([...kinds].sort()).toEqual(COLLECTORS.map((c) => c.kind).sort());
    expect(COLLECTORS.length).toBeGreaterThan(0);
  });

  for (const c of cases) {
    const { collector, format } = c.detected as NonNullable<typeof c.detected>;
    it(`${c.path} (${format}): no loss, no duplicates, independent of chunking`, async () => {
      const options = optionsFor(c.path);
      const whole = await run(collector, format, c.bytes, [], 8192, options);
      // Log lines are one record, one outcome; a DAS Kinesis record holds many events, so there the
      // rejected records are a part of the records and the events are checked by the DAS golden files.
      if (collector.kind === 'das') expect(whole.rejected.length).toBeLessThanOrEqual(whole.records);
      else expect(whole.events.length + whole.rejected.length + whole.skipped).toBe(whole.records);
      expect(new Set(whole.events.map((e) => e.event_id)).size).toBe(whole.events.length);
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, c.bytes.length - 1) }), { maxLength: 12 }),
          fc.integer({ min: 1, max: 64 }),
          async (cuts, batchSize) => {
            const split = await run(
              collector,
              format,
              c.bytes,
              cuts.sort((a, b) => a - b),
              batchSize,
              options,
            );
            expect(split.events).toEqual(whole.events);
            expect(split.rejected).toEqual(whole.rejected);
            expect(split.records).toBe(whole.records);
          },
        ),
        { numRuns: 15, seed: 42 },
      );
    });
  }
});
