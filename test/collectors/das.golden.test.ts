import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_ID } from '../../fixtures/das/sample-records.js';
import { checkEvent, eventToJson } from '../../src/schema/index.js';
import { collectFile, FIXTURES, startDasKms } from '../support/das-kms.js';
import { expectGolden } from '../support/golden.js';
import type { KmsServer } from '../support/kms-server.js';

/** Every DAS input fixture: JSON Lines and Lambda events, not key files or expectations. */
const cases = readdirSync(FIXTURES).filter(
  (f) => (f.endsWith('.jsonl') || f.endsWith('.json')) && !f.endsWith('.expected.json') && f !== 'kms-keys.json',
);

let kms: KmsServer;
beforeAll(async () => {
  kms = await startDasKms();
});
afterAll(() => kms.stop());

describe('DAS golden files', () => {
  it('has fixtures', () => expect(cases.length).toBeGreaterThanOrEqual(3));

  for (const file of cases) {
    it(file, async () => {
      const before = kms.calls.Decrypt ?? 0;
      // JSON Lines carry no stream name, so the resource id is configured; Lambda events name their stream.
      const options = file.endsWith('.jsonl') ? { resourceId: CLUSTER_ID } : {};
      const { total } = await collectFile(`${FIXTURES}${file}`, options, `fixtures/das/${file}`);
      for (const e of total.events) expect(checkEvent(e)).toBeNull();
      const actual = {
        records: total.records,
        skipped: total.skipped,
        kms_decrypt_calls: (kms.calls.Decrypt ?? 0) - before,
        rejected: total.rejected.map((r) => ({ source_ref: r.source_ref, reason: r.reason })),
        events: total.events.map(eventToJson),
      };
      await expectGolden(`${FIXTURES}${file.replace(/\.jsonl?$/, '')}.expected.json`, actual);
    });
  }
});
