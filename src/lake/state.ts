import type { z } from 'zod';
import type { Storage } from './storage.js';

/**
 * Reading the lake's own bookkeeping (`_state/`: manifests, indexes, journals, checkpoints). Those files
 * are written by auditlake, but a lake outlives the process that wrote it: a copy may be truncated, a
 * file may come from another version or another tool. Each is checked against its schema when read, so
 * a bad one is a message naming the object and what is wrong, never a TypeError deep inside a later step.
 */

/** A state object that is not JSON or not of the expected shape. */
export class StateError extends Error {}

/** Parses and checks the bytes of the state object `key`; throws a {@link StateError} naming it and what is wrong. */
export function parseState<T>(where: string, key: string, body: Buffer | string, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch (e) {
    throw new StateError(`${where}: ${key} is not JSON (${(e as Error).message}); the file is damaged or not auditlake's`, { cause: e });
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
    throw new StateError(`${where}: ${key} is not the expected lake state (${problems.join('; ')})`, { cause: result.error });
  }
  return result.data;
}

/** Reads the state object `key` of a lake, checked against `schema`; null when there is none. */
export async function readState<T>(storage: Storage, key: string, schema: z.ZodType<T>): Promise<T | null> {
  const body = await storage.get(key);
  return body === null ? null : parseState(storage.url, key, body, schema);
}
