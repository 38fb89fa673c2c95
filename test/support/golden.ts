import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { expect } from 'vitest';

/**
 * Compares a value with the JSON checked in at `path`. `UPDATE_GOLDEN=1` writes the file instead, for review in
 * the diff; without it, a missing file fails the test (a new fixture needs its expectation reviewed, not
 * silently accepted).
 */
export async function expectGolden(path: string, actual: unknown): Promise<void> {
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1') {
    await writeFile(path, text);
    return;
  }
  if (!existsSync(path)) throw new Error(`golden file ${path} is missing: run with UPDATE_GOLDEN=1 and review it`);
  expect(JSON.parse(text)).toEqual(JSON.parse(await readFile(path, 'utf8')));
}
