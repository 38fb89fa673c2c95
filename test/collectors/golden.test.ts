import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkEvent } from '../../src/schema/index.js';
import { collectFile, normalized } from '../support/collect.js';
import { expectGolden } from '../support/golden.js';

/**
 * Every fixture of the areas whose collectors need no service (DAS has its own golden test with the
 * local KMS) is read and compared with `<fixture>.expected.json` beside it; a new fixture is a new
 * test. `UPDATE_GOLDEN=1` rewrites the expectations for review.
 */
const AREAS = ['pgaudit', 'proxy'];
const NOT_INPUT = /\.(ts|md)$|\.expected\.json$|\.workload\.json$/;

describe('collector golden files', () => {
  for (const area of AREAS) {
    const dir = join('fixtures', area);
    const cases = readdirSync(dir).filter((f) => !NOT_INPUT.test(f) && !f.startsWith('.'));
    it(`${area} has fixtures to compare`, () => {
      expect(cases.length).toBeGreaterThan(0);
    });
    for (const name of cases) {
      it(`${area}/${name} matches ${name}.expected.json`, async () => {
        const collected = await collectFile(join(dir, name));
        for (const e of collected.events) expect(checkEvent(e)).toBeNull();
        // Every record is accounted for: an event, a quarantined record, or a counted skip.
        const skipped = Object.values(collected.skipped).reduce((a, b) => a + b, 0);
        expect(collected.events.length + collected.rejected.length + skipped).toBe(collected.records);
        await expectGolden(join(dir, `${name}.expected.json`), normalized(collected));
      });
    }
  }
});
