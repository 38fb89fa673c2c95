/**
 * The JSON envelope that is the data of every DAS Kinesis record (formats.md 1.1):
 * `{"type":"DatabaseActivityMonitoringRecords","version":"1.2","databaseActivityEvents":"<base64 ESDK message>",
 * "key":"<base64 KMS ciphertext of the data key>"}`.
 */

/** The envelope `type` every DAS Kinesis record carries. */
export const ENVELOPE_TYPE = 'DatabaseActivityMonitoringRecords';

/**
 * Envelope versions seen in the wild: 1.0 (Aurora PG 10.7/11.4), 1.1 (+errorMessage, startTime), 1.2 (+endTime,
 * transactionId). A record of another version is quarantined (kept whole, to be read again) rather than mapped
 * by guesswork: the run summary then says a new version has appeared.
 */
const KNOWN_VERSIONS: readonly string[] = ['1.0', '1.1', '1.2'];

/** A parsed, validated envelope. */
export interface DasEnvelope {
  version: string;
  /** The ESDK message, decoded from base64. */
  events: Buffer;
  /** The data key ciphertext as the record gives it (base64): also the data-key cache key. */
  key: string;
  /** The data key ciphertext, decoded. */
  keyBlob: Buffer;
}

/** Outcome of parsing: the envelope, or why the record is rejected. */
export type EnvelopeResult = { ok: true; envelope: DasEnvelope } | { ok: false; reason: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes standard base64, strictly: Node's `Buffer.from(s, 'base64')` silently skips characters outside the
 * alphabet, which would turn a corrupted record into different bytes instead of an error. Returns null when
 * `text` is not canonical padded base64.
 */
export function decodeBase64Strict(text: string): Buffer | null {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return null;
  return Buffer.from(text, 'base64');
}

/** Parses the envelope from a Kinesis record's data (JSON text). Never throws. */
export function parseEnvelope(text: string): EnvelopeResult {
  if (text.trim() === '') return { ok: false, reason: 'empty record' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `envelope is not JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'envelope is not a JSON object' };
  const env = value as Record<string, unknown>;
  if (env.type !== ENVELOPE_TYPE) return { ok: false, reason: `unknown envelope type ${JSON.stringify(env.type ?? null)}` };
  if (typeof env.version !== 'string') return { ok: false, reason: 'envelope has no version' };
  if (!KNOWN_VERSIONS.includes(env.version))
    return { ok: false, reason: `unknown envelope version ${JSON.stringify(env.version)} (known: ${KNOWN_VERSIONS.join(', ')})` };
  if (typeof env.databaseActivityEvents !== 'string' || env.databaseActivityEvents === '') {
    return { ok: false, reason: 'envelope has no databaseActivityEvents' };
  }
  if (typeof env.key !== 'string' || env.key === '') return { ok: false, reason: 'envelope has no key' };
  const events = decodeBase64Strict(env.databaseActivityEvents);
  if (!events) return { ok: false, reason: 'databaseActivityEvents is not valid base64' };
  const keyBlob = decodeBase64Strict(env.key);
  if (!keyBlob) return { ok: false, reason: 'key is not valid base64' };
  return { ok: true, envelope: { version: env.version, events, key: env.key, keyBlob } };
}
