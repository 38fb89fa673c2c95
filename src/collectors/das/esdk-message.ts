/**
 * A decryptor for the one AWS Encryption SDK message shape Aurora Database Activity Streams write: message
 * format version 1, algorithm suite 0x0378 (`ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384`), its data key
 * wrapped by a raw AES-256-GCM keyring, framed or single-block content.
 *
 * Why not only the SDK: the SDK decompresses each message's ECDSA public key in pure JavaScript (bn.js) and
 * pushes the body through several object-mode streams, which together cost about three times the one ECDSA
 * verification that a message really needs. Here every step is one OpenSSL call through `node:crypto`. Every
 * check the SDK makes on this suite is made here too, in the same order where it matters (header, data key,
 * header authentication, body, signature), and the differential test runs both over thousands of generated and
 * mutated messages requiring the same plaintext or the same refusal. A message of any other suite is not
 * handled here: {@link isDasFastPathMessage} tells the caller to hand it to the SDK.
 *
 * Message format: https://docs.aws.amazon.com/encryption-sdk/latest/developer-guide/message-format.html
 * Body AAD and key derivation: https://docs.aws.amazon.com/encryption-sdk/latest/developer-guide/body-aad-reference.html,
 * https://docs.aws.amazon.com/encryption-sdk/latest/developer-guide/algorithms-reference.html
 */
import { createDecipheriv, createPublicKey, hkdfSync, type KeyObject, verify } from 'node:crypto';

/** `ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384`, the suite of every DAS message. */
export const DAS_SUITE_ID = 0x0378;

const VERSION_1 = 0x01;
const TYPE_CUSTOMER_AED = 0x80;
const CONTENT_NO_FRAMING = 0x01;
const CONTENT_FRAMED = 0x02;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const KEY_LENGTH = 32;
/** The marker that opens the final frame of framed content. */
const FINAL_FRAME_MARKER = 0xffffffff;
/** SEC1 compressed P-384 point: one prefix byte and the 48-byte x coordinate. */
const COMPRESSED_P384_LENGTH = 49;
/** The most bytes one AES-GCM nonce may protect (2^36 - 32), as the SDK enforces for single-block content. */
const MAX_GCM_CONTENT = 2 ** 36 - 32;

const FRAME_AAD = Buffer.from('AWSKMSEncryptionClient Frame');
const FINAL_FRAME_AAD = Buffer.from('AWSKMSEncryptionClient Final Frame');
const SINGLE_BLOCK_AAD = Buffer.from('AWSKMSEncryptionClient Single Block');

/**
 * DER prefix of a SubjectPublicKeyInfo for a compressed secp384r1 point: SEQUENCE { SEQUENCE { id-ecPublicKey,
 * secp384r1 }, BIT STRING (49 bytes) }. OpenSSL decompresses the point itself, and refuses one not on the curve.
 */
const P384_COMPRESSED_SPKI_PREFIX = Buffer.from('3046301006072a8648ce3d020106052b81040022033200', 'hex');

/** The encryption-context key under which the SDK stores the message's public verification key. */
export const PUBLIC_KEY_CONTEXT_KEY = 'aws-crypto-public-key';

/** The raw AES keyring's identity: provider id (namespace) and key name. */
export interface RawAesKeyName {
  namespace: string;
  name: string;
}

/** The raw AES keyring Aurora wraps each message's data key with: namespace `BC`, key name `DataKey`. */
export const DAS_KEYRING: RawAesKeyName = { namespace: 'BC', name: 'DataKey' };

/** Outcome of {@link decryptDasMessage}. */
export type DasMessageResult = { ok: true; plaintext: Buffer } | { ok: false; reason: string };

/** Thrown inside this module for a malformed or unauthentic message; turned into a result at the top. */
class Refused extends Error {}

function need(condition: unknown, reason: string): asserts condition {
  if (!condition) throw new Refused(reason);
}

/** Bounds-checked big-endian reader over one message. */
class Reader {
  pos = 0;
  constructor(readonly bytes: Buffer) {}

  need(n: number): void {
    need(this.pos + n <= this.bytes.length, 'truncated message');
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.pos++];
  }
  u16(): number {
    this.need(2);
    const v = this.bytes.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.bytes.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  take(n: number): Buffer {
    this.need(n);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** A uint16 length followed by that many bytes. */
  element(): Buffer {
    return this.take(this.u16());
  }
}

/** True when `message` is a version-1 message of the DAS suite, which {@link decryptDasMessage} handles. */
export function isDasFastPathMessage(message: Uint8Array): boolean {
  return (
    message.length >= 4 && message[0] === VERSION_1 && message[1] === TYPE_CUSTOMER_AED && ((message[2] << 8) | message[3]) === DAS_SUITE_ID
  );
}

interface Header {
  messageId: Buffer;
  context: Map<string, string>;
  dataKeys: { providerId: string; providerInfo: string; rawInfo: Buffer; encrypted: Buffer }[];
  contentType: number;
  frameLength: number;
  /** The header bytes that the header authentication tag covers. */
  raw: Buffer;
  headerIv: Buffer;
  headerTag: Buffer;
}

function readHeader(r: Reader): Header {
  need(r.bytes.length >= 22, 'truncated message');
  need(r.u8() === VERSION_1 && r.u8() === TYPE_CUSTOMER_AED, 'malformed header');
  need(r.u16() === DAS_SUITE_ID, 'unsupported algorithm suite');
  const messageId = r.take(16);
  const contextBytes = r.element();
  const context = decodeContext(contextBytes);
  const keyCount = r.u16();
  need(keyCount > 0, 'no encrypted data key');
  const dataKeys: Header['dataKeys'] = [];
  for (let i = 0; i < keyCount; i++) {
    const providerId = r.element().toString('utf8');
    const rawInfo = r.element();
    dataKeys.push({ providerId, providerInfo: rawInfo.toString('utf8'), rawInfo, encrypted: r.element() });
  }
  const contentType = r.u8();
  need(r.u32() === 0, 'malformed header: reserved bytes');
  need(r.u8() === IV_LENGTH, 'malformed header: IV length');
  const frameLength = r.u32();
  const raw = r.bytes.subarray(0, r.pos);
  const headerIv = r.take(IV_LENGTH);
  const headerTag = r.take(TAG_LENGTH);
  return { messageId, context, dataKeys, contentType, frameLength, raw, headerIv, headerTag };
}

/** The serialized encryption context: a pair count, then length-prefixed keys and values. */
function decodeContext(bytes: Buffer): Map<string, string> {
  const context = new Map<string, string>();
  if (bytes.length === 0) return context;
  const r = new Reader(bytes);
  const pairs = r.u16();
  for (let i = 0; i < pairs; i++) {
    const key = r.element().toString('utf8');
    const value = r.element().toString('utf8');
    need(!context.has(key), 'duplicate encryption context key');
    context.set(key, value);
  }
  need(r.pos === bytes.length, 'malformed encryption context');
  return context;
}

/**
 * The encryption context as the raw AES keyring authenticates it: re-serialized from the decoded strings, sorted
 * by `localeCompare` of the keys (the SDK's default), without the outer length.
 */
function contextAad(context: Map<string, string>): Buffer {
  const entries = [...context].sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return Buffer.alloc(0);
  const parts: Buffer[] = [u16(entries.length)];
  for (const [key, value] of entries) {
    const k = Buffer.from(key, 'utf8');
    const v = Buffer.from(value, 'utf8');
    parts.push(u16(k.length), k, u16(v.length), v);
  }
  return Buffer.concat(parts);
}

function u16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n);
  return b;
}

/** AES-256-GCM decryption that reports a bad tag as a refusal naming `what` did not authenticate. */
function gcmOpen(what: string, key: Uint8Array, iv: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const head = decipher.update(ciphertext);
  try {
    const tail = decipher.final();
    return tail.length ? Buffer.concat([head, tail]) : head;
  } catch {
    throw new Refused(`${what} did not authenticate`);
  }
}

/** Unwraps the message's data key with the raw AES wrapping key; tries each data key of the keyring's name. */
function unwrapDataKey(header: Header, keyName: RawAesKeyName, wrappingKey: Uint8Array): Buffer {
  const aad = contextAad(header.context);
  const nameBytes = Buffer.byteLength(keyName.name, 'utf8');
  for (const edk of header.dataKeys) {
    if (edk.providerId !== keyName.namespace || !edk.providerInfo.startsWith(keyName.name)) continue;
    try {
      // Provider info: key name, tag length in bits (uint32), IV length (uint32), IV.
      const info = edk.rawInfo.subarray(nameBytes);
      need(info.length === 8 + IV_LENGTH, 'malformed provider info');
      need(info.readUInt32BE(0) === TAG_LENGTH * 8 && info.readUInt32BE(4) === IV_LENGTH, 'malformed provider info');
      need(edk.encrypted.length === KEY_LENGTH + TAG_LENGTH, 'malformed provider info');
      const iv = info.subarray(8);
      return gcmOpen('data key', wrappingKey, iv, aad, edk.encrypted.subarray(0, KEY_LENGTH), edk.encrypted.subarray(KEY_LENGTH));
    } catch {
      // The SDK's raw keyring tries the next data key when one does not unwrap.
    }
  }
  throw new Refused('unable to decrypt the data key with this keyring');
}

/** The body's additional authenticated data: message id, content string, sequence number, content length. */
function bodyAad(messageId: Buffer, kind: Buffer, sequence: number, length: number): Buffer {
  const aad = Buffer.allocUnsafe(16 + kind.length + 12);
  messageId.copy(aad, 0);
  kind.copy(aad, 16);
  aad.writeUInt32BE(sequence, 16 + kind.length);
  aad.writeUInt32BE(Math.floor(length / 2 ** 32), 20 + kind.length);
  aad.writeUInt32BE(length >>> 0, 24 + kind.length);
  return aad;
}

function readFramedBody(r: Reader, header: Header, key: Buffer): Buffer[] {
  const plain: Buffer[] = [];
  for (let sequence = 1; ; sequence++) {
    const first = r.u32();
    if (first === FINAL_FRAME_MARKER) {
      need(r.u32() === sequence, 'encrypted body sequence out of order');
      const iv = r.take(IV_LENGTH);
      const length = r.u32();
      need(length <= header.frameLength, 'final frame length exceeds frame length');
      const content = r.take(length);
      const tag = r.take(TAG_LENGTH);
      plain.push(gcmOpen(`final frame ${sequence}`, key, iv, bodyAad(header.messageId, FINAL_FRAME_AAD, sequence, length), content, tag));
      return plain;
    }
    need(first === sequence, 'encrypted body sequence out of order');
    need(header.frameLength > 0, 'malformed frame length');
    const iv = r.take(IV_LENGTH);
    const content = r.take(header.frameLength);
    const tag = r.take(TAG_LENGTH);
    plain.push(gcmOpen(`frame ${sequence}`, key, iv, bodyAad(header.messageId, FRAME_AAD, sequence, header.frameLength), content, tag));
  }
}

function readSingleBlockBody(r: Reader, header: Header, key: Buffer): Buffer[] {
  const iv = r.take(IV_LENGTH);
  const high = r.u32();
  const low = r.u32();
  const length = high * 2 ** 32 + low;
  need(length < MAX_GCM_CONTENT, 'content length out of bounds');
  const content = r.take(length);
  const tag = r.take(TAG_LENGTH);
  return [gcmOpen('body', key, iv, bodyAad(header.messageId, SINGLE_BLOCK_AAD, 1, length), content, tag)];
}

/** The message's verification key, from the compressed point in its encryption context. */
function verificationKey(header: Header): KeyObject {
  const encoded = header.context.get(PUBLIC_KEY_CONTEXT_KEY);
  need(encoded, 'context does not contain the public key');
  const point = Buffer.from(encoded, 'base64');
  need(point.length === COMPRESSED_P384_LENGTH && (point[0] === 2 || point[0] === 3), 'malformed public key');
  try {
    return createPublicKey({ key: Buffer.concat([P384_COMPRESSED_SPKI_PREFIX, point]), format: 'der', type: 'spki' });
  } catch {
    throw new Refused('malformed public key');
  }
}

/**
 * Decrypts a DAS ESDK message with the raw AES wrapping key (the plaintext data key KMS returned), verifying the
 * header, every frame and the ECDSA signature. Never throws; a message of another suite is refused here (check
 * {@link isDasFastPathMessage} first and give such a message to the SDK).
 */
export function decryptDasMessage(message: Buffer, wrappingKey: Uint8Array, keyName: RawAesKeyName): DasMessageResult {
  try {
    const r = new Reader(message);
    const header = readHeader(r);
    const publicKey = verificationKey(header);
    const dataKey = unwrapDataKey(header, keyName, wrappingKey);
    const suiteAndId = Buffer.concat([u16(DAS_SUITE_ID), header.messageId]);
    const key = Buffer.from(hkdfSync('sha384', dataKey, Buffer.alloc(0), suiteAndId, KEY_LENGTH));
    gcmOpen('header', key, header.headerIv, header.raw, Buffer.alloc(0), header.headerTag);
    let plain: Buffer[];
    if (header.contentType === CONTENT_FRAMED) plain = readFramedBody(r, header, key);
    else if (header.contentType === CONTENT_NO_FRAMING) plain = readSingleBlockBody(r, header, key);
    else throw new Refused('unknown content type');
    const signed = message.subarray(0, r.pos);
    const signature = r.element();
    need(signature.length > 0 && r.pos === message.length, 'invalid signature');
    need(verify('sha384', signed, { key: publicKey, dsaEncoding: 'der' }, signature), 'invalid signature');
    return { ok: true, plaintext: plain.length === 1 ? plain[0] : Buffer.concat(plain) };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, reason: err.message };
    return { ok: false, reason: `malformed message: ${(err as Error).message}` };
  }
}
