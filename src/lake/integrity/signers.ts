import { constants, createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
// Types only: the KMS SDK is loaded by a KMS signer, not by every run that verifies or signs with a file.
import type { KMSClient, SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import type { DigestSignature } from './digest-record.js';

/**
 * Who signs digests: a KMS asymmetric key (the private key never leaves KMS) or a local Ed25519 key
 * file. Verification is always local, against the DER public key the signature carries, after checking
 * that key is the one the verifier trusts (its SHA-256 fingerprint).
 */
export interface Signer {
  /** For messages: `kms:<arn>` or `ed25519:<fingerprint>`. */
  readonly name: string;
  /** Signs `message`: the 32-byte SHA-256 of a digest's canonical JSON (`signedMessage`). */
  sign(message: Buffer): Promise<DigestSignature>;
}

/** A trusted public key: its fingerprint and where it came from. */
export interface TrustedKey {
  fingerprint: string;
  name: string;
}

/** SHA-256 of a DER SubjectPublicKeyInfo, hex. */
export function keyFingerprint(spkiDer: Buffer): string {
  return createHash('sha256').update(spkiDer).digest('hex');
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** Signs with a local Ed25519 private key (PEM, PKCS#8), e.g. made by `openssl genpkey -algorithm ed25519`. */
export async function ed25519FileSigner(path: string): Promise<Signer> {
  let key: KeyObject;
  try {
    key = createPrivateKey(await readFile(path));
  } catch (e) {
    throw new Error(`--sign-key ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`--sign-key ${path}: an Ed25519 private key is expected, not ${key.asymmetricKeyType}`);
  const publicDer = spki(createPublicKey(key));
  const fingerprint = keyFingerprint(publicDer);
  return {
    name: `ed25519:${fingerprint.slice(0, 16)}`,
    async sign(message) {
      return {
        algorithm: 'ED25519',
        key_id: 'file',
        public_key: publicDer.toString('base64'),
        key_fingerprint: fingerprint,
        value: sign(null, message, key).toString('base64'),
      };
    },
  };
}

/** KMS signing algorithms in order of preference; each hashes the (32-byte) message with SHA-256 and signs that. */
const KMS_ALGORITHMS: SigningAlgorithmSpec[] = ['ECDSA_SHA_256', 'RSASSA_PSS_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_256'];

/**
 * Signs with a KMS asymmetric key (`kms:Sign`; ECC_NIST_P256 or RSA, key usage SIGN_VERIFY). The key's
 * public half is fetched once (`kms:GetPublicKey`). The client honours `AWS_ENDPOINT_URL_KMS`.
 */
export async function kmsSigner(keyId: string, given?: KMSClient): Promise<Signer> {
  const { KMSClient, SignCommand } = await import('@aws-sdk/client-kms');
  const client = given ?? new KMSClient({});
  const key = await kmsPublicKey(keyId, client);
  const algorithm = KMS_ALGORITHMS.find((a) => key.algorithms.includes(a));
  if (!algorithm) throw new Error(`--sign-kms-key ${keyId}: the key signs with none of ${KMS_ALGORITHMS.join(', ')}`);
  return {
    name: `kms:${key.arn}`,
    async sign(message) {
      const out = await client.send(
        new SignCommand({
          KeyId: key.arn,
          Message: message,
          MessageType: 'RAW',
          SigningAlgorithm: algorithm,
        }),
      );
      if (!out.Signature) throw new Error(`kms:Sign with ${key.arn} returned no signature`);
      return {
        algorithm,
        key_id: key.arn,
        public_key: key.der.toString('base64'),
        key_fingerprint: key.fingerprint,
        value: Buffer.from(out.Signature).toString('base64'),
      };
    },
  };
}

/** A KMS key's public half and what it can sign with. */
export async function kmsPublicKey(
  keyId: string,
  given?: KMSClient,
): Promise<{ arn: string; der: Buffer; fingerprint: string; algorithms: string[] }> {
  const { GetPublicKeyCommand, KMSClient } = await import('@aws-sdk/client-kms');
  const client = given ?? new KMSClient({});
  const out = await client.send(new GetPublicKeyCommand({ KeyId: keyId }));
  if (out.KeyUsage && out.KeyUsage !== 'SIGN_VERIFY') throw new Error(`KMS key ${keyId} is for ${out.KeyUsage}, not SIGN_VERIFY`);
  if (!out.PublicKey) throw new Error(`kms:GetPublicKey ${keyId} returned no public key`);
  const der = Buffer.from(out.PublicKey);
  return { arn: out.KeyId ?? keyId, der, fingerprint: keyFingerprint(der), algorithms: out.SigningAlgorithms ?? [] };
}

/** A trusted key from a PEM file: a public key, or a private key whose public half is taken. */
export async function trustedKeyFile(path: string): Promise<TrustedKey> {
  const pem = await readFile(path);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    throw new Error(`--public-key ${path}: ${(e as Error).message}`, { cause: e });
  }
  return { fingerprint: keyFingerprint(spki(key)), name: path };
}

/** True when `signature` is a valid signature of `message` by the public key it carries. */
export function signatureValid(message: Buffer, signature: DigestSignature): boolean {
  try {
    const der = Buffer.from(signature.public_key, 'base64');
    if (keyFingerprint(der) !== signature.key_fingerprint) return false;
    const key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    const value = Buffer.from(signature.value, 'base64');
    switch (signature.algorithm) {
      case 'ED25519':
        return verify(null, message, key, value);
      case 'ECDSA_SHA_256':
      case 'RSASSA_PKCS1_V1_5_SHA_256':
        return verify('sha256', message, key, value);
      case 'RSASSA_PSS_SHA_256':
        // KMS uses a salt as long as the digest.
        return verify('sha256', message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, value);
      default:
        return false;
    }
  } catch {
    return false;
  }
}
