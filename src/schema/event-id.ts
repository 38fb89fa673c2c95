import { createHash } from 'node:crypto';

/**
 * Event ids are deterministic so that re-ingesting the same input yields the same ids (and the same
 * file names), never duplicates. A collector hashes once per input unit (a file's fingerprint, a
 * Kinesis record, a proxy session) into a key, and numbers the events within it: hashing per event
 * would cost more than parsing the event.
 */

/** A 20-hex-digit key from the parts that identify an input unit. */
export function idKey(...parts: (string | number)[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 20);
}

/** The event id of the `n`th record (or byte offset) within the unit identified by `key`: 32 hex digits. */
export function eventId(key: string, n: number): string {
  return key + n.toString(16).padStart(12, '0');
}
