/**
 * Steps 2 and 3 of DAS decryption (formats.md 1.2): the `databaseActivityEvents` field is an AWS Encryption SDK
 * message whose data key is wrapped by a raw AES-256-GCM key (namespace `BC`, name `DataKey`) — the plaintext
 * data key KMS returned. Its body is gzip of the JSON `DatabaseActivityMonitoringRecord`.
 */
import { gunzipSync } from 'node:zlib';
import { buildClient, CommitmentPolicy, RawAesKeyringNode, RawAesWrappingSuiteIdentifier } from '@aws-crypto/client-node';

/** Key provider namespace and key name Aurora uses for the raw AES wrapping key. */
export const DAS_KEY_NAMESPACE = 'BC';
export const DAS_KEY_NAME = 'DataKey';

// DAS messages use the non-committing signed suite ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384: the default
// policy (REQUIRE_ENCRYPT_REQUIRE_DECRYPT) refuses them with "Configuration conflict".
const { decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT);

/** The keyring that unwraps ESDK messages of one DAS data key. Build it once per data key. */
export function keyringFor(dataKey: Uint8Array): RawAesKeyringNode {
  return new RawAesKeyringNode({
    keyNamespace: DAS_KEY_NAMESPACE,
    keyName: DAS_KEY_NAME,
    // The keyring keeps the bytes it is given: hand it its own copy.
    unencryptedMasterKey: new Uint8Array(dataKey),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
}

/** The decrypted activity record (still untyped JSON), or why it could not be had. */
export type ActivityResult = { ok: true; record: unknown } | { ok: false; reason: string };

/** Decrypts an ESDK message with `keyring`, gunzips and parses it. Never throws. */
export async function decryptActivity(keyring: RawAesKeyringNode, message: Uint8Array): Promise<ActivityResult> {
  let plaintext: Buffer;
  try {
    ({ plaintext } = await decrypt(keyring, message));
  } catch (err) {
    return { ok: false, reason: `ESDK decrypt failed: ${(err as Error).message}` };
  }
  let json: string;
  try {
    json = gunzipSync(plaintext).toString('utf8');
  } catch (err) {
    return { ok: false, reason: `decrypted payload is not gzip: ${(err as Error).message}` };
  }
  try {
    return { ok: true, record: JSON.parse(json) };
  } catch {
    // JSON.parse's message quotes the decrypted text, which may hold a secret: say only how long it was.
    return { ok: false, reason: `decrypted payload is not JSON (${json.length} characters)` };
  }
}
