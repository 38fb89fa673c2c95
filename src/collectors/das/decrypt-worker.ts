/**
 * A decryption worker thread: decrypts DAS messages of the fast-path suite and gunzips them, so the signature
 * checks of a batch run on every core while the main thread maps and writes. Loads no AWS SDK code.
 *
 * Request: `{ id, key, message }` (the data key and the ESDK message bytes). Reply: `{ id, ok: true, json }`
 * or `{ id, ok: false, reason }`.
 */
import { parentPort } from 'node:worker_threads';
import { DAS_KEYRING, decryptDasMessage } from './esdk-message.js';
import { unzipPayload } from './payload.js';

/** One message to decrypt. */
export interface DecryptRequest {
  id: number;
  key: Uint8Array;
  message: Uint8Array;
}

/** What became of it. */
export type DecryptReply = { id: number; ok: true; json: string } | { id: number; ok: false; reason: string };

parentPort?.on('message', ({ id, key, message }: DecryptRequest) => {
  const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const decrypted = decryptDasMessage(bytes, key, DAS_KEYRING);
  let reply: DecryptReply;
  if (!decrypted.ok) reply = { id, ok: false, reason: `ESDK decrypt failed: ${decrypted.reason}` };
  else {
    const text = unzipPayload(decrypted.plaintext);
    reply = text.ok ? { id, ok: true, json: text.json } : { id, ok: false, reason: text.reason };
  }
  parentPort?.postMessage(reply);
});
