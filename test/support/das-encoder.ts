/**
 * Produces DAS Kinesis record data the way Aurora does (formats.md 1.2, in reverse): a data key from KMS
 * GenerateDataKey under the `aws:rds:dbc-id` encryption context; the activity record as gzip'd JSON encrypted
 * as an AWS Encryption SDK message with the signed, non-committing suite
 * ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384 under a raw AES keyring (namespace `BC`, name `DataKey`);
 * and the JSON envelope. Used by the fixture script, tests and the bench.
 */
import { gzipSync } from 'node:zlib';
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';
import { GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { encryptionContextFor } from '../../src/collectors/das/kms.js';

// Encrypting with a non-committing suite needs a client that forbids commitment on encrypt, as Aurora's does.
const { encrypt } = buildClient(CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT);

/** A DAS data key: its plaintext and its KMS ciphertext as the envelope carries it (base64). */
export interface DasDataKey {
  plaintext: Uint8Array;
  ciphertext: string;
}

/** Asks KMS for a data key bound to the DAS encryption context of `resourceId`. */
export async function generateDataKey(kms: KMSClient, keyId: string, resourceId: string): Promise<DasDataKey> {
  const context = encryptionContextFor(resourceId);
  const out = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context }));
  return { plaintext: new Uint8Array(out.Plaintext!), ciphertext: Buffer.from(out.CiphertextBlob!).toString('base64') };
}

/**
 * Encrypts `payload` (already gzip'd, or any bytes for bad-record fixtures) as a DAS ESDK message, with framed
 * content of `frameLength` bytes a frame (the SDK's default 4096 unless given).
 */
export async function encryptPayload(dataKey: Uint8Array, payload: Uint8Array, frameLength?: number): Promise<Buffer> {
  const keyring = new RawAesKeyringNode({
    keyNamespace: 'BC',
    keyName: 'DataKey',
    unencryptedMasterKey: new Uint8Array(dataKey),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  const { result } = await encrypt(keyring, payload, {
    suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
    ...(frameLength ? { frameLength } : {}),
  });
  return result;
}

/** The envelope JSON text of a Kinesis record carrying `message` under `dataKey`. */
export function envelope(version: string, message: Uint8Array, dataKey: DasDataKey): string {
  return JSON.stringify({
    type: 'DatabaseActivityMonitoringRecords',
    version,
    databaseActivityEvents: Buffer.from(message).toString('base64'),
    key: dataKey.ciphertext,
  });
}

/** A whole DAS Kinesis record's data (envelope JSON) for a decrypted activity record. */
export async function encodeDasRecord(record: unknown, version: string, dataKey: DasDataKey): Promise<string> {
  const message = await encryptPayload(dataKey.plaintext, gzipSync(JSON.stringify(record)));
  return envelope(version, message, dataKey);
}
