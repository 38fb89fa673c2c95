import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkEvent } from '../../src/schema/index.js';
import { collectFile, normalized } from '../support/collect.js';
import { expectGolden } from '../support/golden.js';

const DIR = 'fixtures/pgaudit';
/** Every log fixture: the folder also holds its generator, expectations and ground truth. */
const CASES = readdirSync(DIR).filter((f) => !/\.(ts|md)$|\.expected\.json$|\.workload\.json$/.test(f) && !f.startsWith('.'));

describe('pgaudit collector golden files', () => {
  it('has fixtures to compare', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(6);
  });
  for (const name of CASES) {
    it(`${name} matches ${name}.expected.json`, async () => {
      const collected = await collectFile(join(DIR, name));
      for (const e of collected.events) expect(checkEvent(e)).toBeNull();
      // Every record is accounted for: an event, a quarantined record, or a counted skip.
      const skipped = Object.values(collected.skipped).reduce((a, b) => a + b, 0);
      expect(collected.events.length + collected.rejected.length + skipped).toBe(collected.records);
      await expectGolden(join(DIR, `${name}.expected.json`), normalized(collected));
    });
  }
});
