/**
 * Writes ESDK messages with single-block (non-framed) content, which the JavaScript SDK can decrypt but no
 * longer writes, so the differential test can cover both body shapes. Same suite and keyring as Aurora's
 * messages (0x0378, raw AES `BC`/`DataKey`); built with `node:crypto` from the message-format reference.
 */
import { createCipheriv, createECDH, createPrivateKey, hkdfSync, randomBytes, sign } from 'node:crypto';

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
function element(bytes: Buffer): Buffer {
  return Buffer.concat([u16(bytes.length), bytes]);
}

function gcmSeal(key: Uint8Array, iv: Buffer, aad: Buffer, plaintext: Buffer): { ciphertext: Buffer; tag: Buffer } {
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

/** A P-384 private key (PKCS#8 via JWK) and its compressed public point. */
function signingKey() {
  const ecdh = createECDH('secp384r1');
  ecdh.generateKeys();
  const full = ecdh.getPublicKey();
  const jwk = {
    kty: 'EC',
    crv: 'P-384',
    d: ecdh.getPrivateKey().toString('base64url'),
    x: full.subarray(1, 49).toString('base64url'),
    y: full.subarray(49).toString('base64url'),
  };
  return { privateKey: createPrivateKey({ key: jwk, format: 'jwk' }), compressed: ecdh.getPublicKey(undefined, 'compressed') };
}

/** Encrypts `payload` under the DAS data key `dataKey` as a signed single-block ESDK message. */
export function encryptSingleBlock(dataKey: Uint8Array, payload: Buffer): Buffer {
  const { privateKey, compressed } = signingKey();
  const messageId = randomBytes(16);
  const contextKey = Buffer.from('aws-crypto-public-key');
  const contextValue = Buffer.from(compressed.toString('base64'));
  const context = Buffer.concat([u16(1), element(contextKey), element(contextValue)]);

  // The data key of this message, wrapped by the raw AES keyring; the serialized context is its AAD.
  const messageKey = randomBytes(32);
  const wrapIv = randomBytes(12);
  const wrapped = gcmSeal(dataKey, wrapIv, context, messageKey);
  const providerInfo = Buffer.concat([Buffer.from('DataKey'), u32(128), u32(12), wrapIv]);
  const dataKeys = Buffer.concat([
    u16(1),
    element(Buffer.from('BC')),
    element(providerInfo),
    element(Buffer.concat([wrapped.ciphertext, wrapped.tag])),
  ]);

  const header = Buffer.concat([
    Buffer.from([0x01, 0x80]),
    u16(0x0378),
    messageId,
    element(context),
    dataKeys,
    Buffer.from([0x01]), // single-block content
    u32(0), // reserved
    Buffer.from([12]), // IV length
    u32(0), // frame length: 0 for single-block content
  ]);
  const derived = Buffer.from(hkdfSync('sha384', messageKey, Buffer.alloc(0), Buffer.concat([u16(0x0378), messageId]), 32));
  const headerIv = randomBytes(12);
  const headerAuth = gcmSeal(derived, headerIv, header, Buffer.alloc(0));

  const bodyIv = randomBytes(12);
  const label = Buffer.from('AWSKMSEncryptionClient Single Block');
  const length = Buffer.alloc(8);
  length.writeBigUInt64BE(BigInt(payload.length));
  const body = gcmSeal(derived, bodyIv, Buffer.concat([messageId, label, u32(1), length]), payload);

  const signed = Buffer.concat([header, headerIv, headerAuth.tag, bodyIv, length, body.ciphertext, body.tag]);
  const signature = sign('sha384', signed, { key: privateKey, dsaEncoding: 'der' });
  return Buffer.concat([signed, element(signature)]);
}
