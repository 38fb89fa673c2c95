import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { expect } from 'vitest';

/**
 * Compares a value with the JSON checked in at `path`; `UPDATE_GOLDEN=1` rewrites the file instead,
 * for review in the diff.
 */
export async function expectGolden(path: string, actual: unknown): Promise<void> {
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) {
    if (process.env.CI && !existsSync(path)) throw new Error(`golden file ${path} is missing`);
    await writeFile(path, text);
    return;
  }
  expect(JSON.parse(text)).toEqual(JSON.parse(await readFile(path, 'utf8')));
}
