/**
 * The decrypted body of a DAS message is gzip of the JSON `DatabaseActivityMonitoringRecord` (formats.md 1.2).
 * Shared by the decryption worker and the main thread, so both word their refusals alike.
 */
import { gunzipSync } from 'node:zlib';

/** The JSON text of a decrypted payload, or why it is not one. */
export type PayloadText = { ok: true; json: string } | { ok: false; reason: string };

/** Gunzips a decrypted payload into its JSON text. Never throws. */
export function unzipPayload(plaintext: Uint8Array): PayloadText {
  try {
    return { ok: true, json: gunzipSync(plaintext).toString('utf8') };
  } catch (err) {
    return { ok: false, reason: `decrypted payload is not gzip: ${(err as Error).message}` };
  }
}

/** The decrypted activity record (still untyped JSON), or why it could not be had. */
export type ActivityResult = { ok: true; record: unknown } | { ok: false; reason: string };

/** Parses a payload's JSON text. Never throws. */
export function parsePayload(json: string): ActivityResult {
  try {
    return { ok: true, record: JSON.parse(json) };
  } catch {
    // JSON.parse's message quotes the decrypted text, which may hold a secret: say only how long it was.
    return { ok: false, reason: `decrypted payload is not JSON (${json.length} characters)` };
  }
}
