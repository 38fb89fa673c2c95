import { describe, expect, it } from 'vitest';
import { expectGolden } from '../support/golden.js';

describe('golden files', () => {
  it('fail when the expectation is missing, unless UPDATE_GOLDEN=1 asks to write it', async () => {
    const saved = process.env.UPDATE_GOLDEN;
    delete process.env.UPDATE_GOLDEN;
    try {
      await expect(expectGolden('/nonexistent/never.expected.json', { a: 1 })).rejects.toThrow(/is missing: run with UPDATE_GOLDEN=1/);
    } finally {
      if (saved !== undefined) process.env.UPDATE_GOLDEN = saved;
    }
  });
});
