/**
 * Steps 2 and 3 of DAS decryption (formats.md 1.2): the `databaseActivityEvents` field is an AWS Encryption SDK
 * message whose data key is wrapped by a raw AES-256-GCM key (namespace `BC`, name `DataKey`) — the plaintext
 * data key KMS returned. Its body is gzip of the JSON `DatabaseActivityMonitoringRecord`.
 */
import type { RawAesKeyringNode } from '@aws-crypto/client-node';
import type { DecryptPool } from './decrypt-pool.js';
import { DAS_KEYRING, decryptDasMessage, isDasFastPathMessage } from './esdk-message.js';
import { type ActivityResult, parsePayload, unzipPayload } from './payload.js';

export type { ActivityResult } from './payload.js';

/** Key provider namespace and key name Aurora uses for the raw AES wrapping key. */
export const DAS_KEY_NAMESPACE = DAS_KEYRING.namespace;
export const DAS_KEY_NAME = DAS_KEYRING.name;

type Esdk = typeof import('@aws-crypto/client-node');
let esdk: Promise<{ sdk: Esdk; decrypt: ReturnType<Esdk['buildClient']>['decrypt'] }> | null = null;

/**
 * The AWS Encryption SDK and its decrypt, loaded on first use: Aurora's messages take the native fast path,
 * so most runs (and every run without DAS input) never load the SDK and what it pulls in.
 */
function loadEsdk(): Promise<{ sdk: Esdk; decrypt: ReturnType<Esdk['buildClient']>['decrypt'] }> {
  esdk ??= import('@aws-crypto/client-node').then((sdk) => ({
    sdk,
    // DAS messages use the non-committing signed suite ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384: the
    // default policy (REQUIRE_ENCRYPT_REQUIRE_DECRYPT) refuses them with "Configuration conflict".
    decrypt: sdk.buildClient(sdk.CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT).decrypt,
  }));
  return esdk;
}

/** The keyring that unwraps ESDK messages of one DAS data key, for the SDK. Build it once per data key. */
export async function keyringFor(dataKey: Uint8Array): Promise<RawAesKeyringNode> {
  const { RawAesKeyringNode, RawAesWrappingSuiteIdentifier } = (await loadEsdk()).sdk;
  return new RawAesKeyringNode({
    keyNamespace: DAS_KEY_NAMESPACE,
    keyName: DAS_KEY_NAME,
    // The keyring keeps the bytes it is given: hand it its own copy.
    unencryptedMasterKey: new Uint8Array(dataKey),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
}

/** What decrypts the messages of one DAS data key: the key itself, and the SDK keyring built when first needed. */
export class DasKeyMaterial {
  private sdkKeyring: Promise<RawAesKeyringNode> | undefined;
  /** `dataKey` is copied: callers may reuse their buffer. */
  constructor(dataKey: Uint8Array) {
    this.dataKey = new Uint8Array(dataKey);
  }
  readonly dataKey: Uint8Array;
  /** The SDK keyring of this key, for messages outside the fast path. */
  keyring(): Promise<RawAesKeyringNode> {
    this.sdkKeyring ??= keyringFor(this.dataKey);
    return this.sdkKeyring;
  }
}

/** The plaintext of an ESDK message, or why it could not be had. */
export type PlaintextResult = { ok: true; plaintext: Buffer } | { ok: false; reason: string };

/**
 * Decrypts an ESDK message of a DAS data key. Messages of the suite Aurora writes go through the native-crypto
 * decryptor (`esdk-message.ts`); anything else goes to the SDK, which decides. Never throws.
 */
export async function decryptMessage(material: DasKeyMaterial, message: Uint8Array): Promise<PlaintextResult> {
  const bytes = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (isDasFastPathMessage(bytes)) {
    const result = decryptDasMessage(bytes, material.dataKey, DAS_KEYRING);
    return result.ok ? result : { ok: false, reason: `ESDK decrypt failed: ${result.reason}` };
  }
  const { decrypt } = await loadEsdk();
  try {
    const { plaintext } = await decrypt(await material.keyring(), bytes);
    return { ok: true, plaintext };
  } catch (err) {
    return { ok: false, reason: `ESDK decrypt failed: ${(err as Error).message}` };
  }
}

/**
 * Decrypts an ESDK message of a DAS data key, gunzips and parses it. With a pool, fast-path messages are
 * decrypted on its worker threads; everything else, and everything without a pool, on this thread. Never
 * throws for a bad message (a failed worker rejects: that is a fault of the process, not of the record).
 */
export async function decryptActivity(material: DasKeyMaterial, message: Uint8Array, pool?: DecryptPool | null): Promise<ActivityResult> {
  if (pool && isDasFastPathMessage(message)) {
    const text = await pool.decrypt(material.dataKey, message);
    return text.ok ? parsePayload(text.json) : text;
  }
  const decrypted = await decryptMessage(material, message);
  if (!decrypted.ok) return decrypted;
  const text = unzipPayload(decrypted.plaintext);
  return text.ok ? parsePayload(text.json) : text;
}
