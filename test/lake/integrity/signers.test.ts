import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetPublicKeyCommand, KMSClient, SignCommand, VerifyCommand } from '@aws-sdk/client-kms';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/lake/integrity/canonical-json.js';
import { ed25519FileSigner, kmsSigner, signatureValid, trustedKeyFile } from '../../../src/lake/integrity/signers.js';
import { type KmsServer, startKmsServer } from '../../support/kms-server.js';

/** Signers against the local KMS endpoint (reached only through @aws-sdk/client-kms) and a local Ed25519 key. */

describe('canonical JSON', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: [{ d: null, c: 'x' }], u: undefined })).toBe('{"a":[{"c":"x","d":null}],"b":1}');
    expect(() => canonicalJson({ x: 1.5 })).toThrow(/integers only/);
  });

  it('is the same text for any key order and parses back to the value', () => {
    const value = fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)));
    fc.assert(
      fc.property(value, (v) => {
        const reversed = Object.fromEntries(Object.entries(v).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(v));
        expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });
});

describe('digest signers', () => {
  let dir: string;
  let kms: KmsServer;
  const saved = { ...process.env };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auditlake-signers-'));
    const keyFile = join(dir, 'keys.json');
    await writeFile(
      keyFile,
      JSON.stringify({
        'sign-ec': { spec: 'ECC_NIST_P256' },
        'sign-rsa': { spec: 'RSA_2048' },
        'sign-denied': { spec: 'ECC_NIST_P256', deny: ['Sign'] },
        symmetric: Buffer.alloc(32, 7).toString('base64'),
      }),
    );
    kms = await startKmsServer({ keyFile });
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_KMS: kms.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
  });
  afterAll(async () => {
    await kms.stop();
    process.env = saved;
    await rm(dir, { recursive: true, force: true });
  });

  const message = Buffer.alloc(32, 0xab);

  it.each(['sign-ec', 'sign-rsa'])('signs with KMS key %s; the signature verifies locally and through kms:Verify', async (id) => {
    const signer = await kmsSigner(id);
    const signature = await signer.sign(message);
    expect(signature.algorithm).toBe(id === 'sign-ec' ? 'ECDSA_SHA_256' : 'RSASSA_PSS_SHA_256');
    expect(signature.key_id).toBe(`arn:aws:kms:us-east-1:000000000000:key/${id}`);
    expect(signatureValid(message, signature)).toBe(true);
    expect(signatureValid(Buffer.alloc(32, 0xac), signature)).toBe(false);
    const client = new KMSClient({});
    const verified = await client.send(
      new VerifyCommand({
        KeyId: id,
        Message: message,
        MessageType: 'RAW',
        Signature: Buffer.from(signature.value, 'base64'),
        SigningAlgorithm: signature.algorithm as 'ECDSA_SHA_256',
      }),
    );
    expect(verified.SignatureValid).toBe(true);
    await expect(
      client.send(
        new VerifyCommand({
          KeyId: id,
          Message: Buffer.alloc(32, 1),
          MessageType: 'RAW',
          Signature: Buffer.from(signature.value, 'base64'),
          SigningAlgorithm: signature.algorithm as 'ECDSA_SHA_256',
        }),
      ),
    ).rejects.toMatchObject({ name: 'KMSInvalidSignatureException' });
    expect(kms.calls.Sign).toBeGreaterThan(0);
  });

  it('answers as KMS does for the wrong key usage, a refused key and a bad algorithm', async () => {
    const client = new KMSClient({});
    await expect(client.send(new GetPublicKeyCommand({ KeyId: 'symmetric' }))).rejects.toMatchObject({
      name: 'UnsupportedOperationException',
    });
    await expect(
      client.send(new SignCommand({ KeyId: 'symmetric', Message: message, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' })),
    ).rejects.toMatchObject({ name: 'InvalidKeyUsageException' });
    const denied = await kmsSigner('sign-denied');
    await expect(denied.sign(message)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(
      client.send(new SignCommand({ KeyId: 'sign-ec', Message: message, MessageType: 'RAW', SigningAlgorithm: 'RSASSA_PSS_SHA_256' })),
    ).rejects.toMatchObject({ name: 'InvalidKeyUsageException' });
  });

  it('signs with a local Ed25519 key; the private or public key file pins the same fingerprint', async () => {
    const pair = generateKeyPairSync('ed25519');
    const priv = join(dir, 'ed.pem');
    const pub = join(dir, 'ed.pub.pem');
    await writeFile(priv, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
    const signature = await (await ed25519FileSigner(priv)).sign(message);
    expect(signatureValid(message, signature)).toBe(true);
    expect((await trustedKeyFile(priv)).fingerprint).toBe(signature.key_fingerprint);
    expect((await trustedKeyFile(pub)).fingerprint).toBe(signature.key_fingerprint);
    // A signature claiming another key's fingerprint is refused before any crypto.
    expect(signatureValid(message, { ...signature, key_fingerprint: '0'.repeat(64) })).toBe(false);
    const ec = join(dir, 'ec.pem');
    await writeFile(ec, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await expect(ed25519FileSigner(ec)).rejects.toThrow(/Ed25519 private key is expected/);
  });
});
