/**
 * A local endpoint speaking the AWS KMS protocol (JSON 1.1 over HTTP, `X-Amz-Target: TrentService.<Op>`), so
 * tests, fixture scripts and the demo exercise the real `@aws-sdk/client-kms` through `AWS_ENDPOINT_URL_KMS`.
 *
 * Implements Encrypt, Decrypt and GenerateDataKey with AES-256-GCM under keys read from a JSON key file. As in
 * KMS, the encryption context is bound to the ciphertext (here as GCM additional data, canonical form: keys
 * sorted), and the ciphertext blob names its key so Decrypt needs no KeyId. Request signatures are not checked.
 * Plain Node `http` and `crypto`, no dependencies, so the demo can use it too.
 *
 * Key file: `{ "<key id or key ARN>": "<base64 32-byte key>" | { "material": "<base64>", "deny": ["Decrypt"] } }`.
 * An ARN entry is also reachable by its bare key id. `deny` makes the listed operations fail with
 * AccessDeniedException, as a key policy would.
 *
 * Asymmetric signing keys (key usage SIGN_VERIFY) implement GetPublicKey, Sign and Verify:
 * `{ "<id>": { "spec": "ECC_NIST_P256" | "RSA_2048" | "RSA_3072" | "RSA_4096", "private_key": "<PEM, optional>" } }`;
 * without `private_key` a fresh key pair is made when the server starts. As in KMS, `Sign` and `Verify`
 * take a RAW message of at most 4096 bytes (hashed with SHA-256 here), ECDSA signatures are DER,
 * RSASSA_PSS uses a salt as long as the digest, and an invalid signature is KMSInvalidSignatureException.
 * `MessageType: DIGEST` is refused (ValidationException): auditlake never sends it.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Options for {@link startKmsServer}. */
export interface KmsServerOptions {
  /** Path of the JSON key file. */
  keyFile: string;
  /** TCP port on 127.0.0.1; 0 or undefined picks a free one. */
  port?: number;
  /** Region used in the ARNs of keys given by bare id; default `us-east-1`. */
  region?: string;
  /** Called after each request is answered, with its operation (fault tests stop the server from here). */
  onCall?: (operation: string) => void;
}

/** A running local KMS endpoint. */
export interface KmsServer {
  /** `http://127.0.0.1:<port>`: set it as `AWS_ENDPOINT_URL_KMS`. */
  url: string;
  /** Requests served, by operation name (`Decrypt`, `Encrypt`, `GenerateDataKey`, ...). */
  calls: Record<string, number>;
  /** Closes the server. */
  stop(): Promise<void>;
}

interface KeyEntry {
  arn: string;
  material: Buffer;
  deny: Set<string>;
  /** Asymmetric signing keys: the key spec and private key. */
  signing?: { spec: string; key: KeyObject };
}

const SIGNING_ALGORITHMS: Record<string, string[]> = {
  ECC_NIST_P256: ['ECDSA_SHA_256'],
  RSA: ['RSASSA_PSS_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_256'],
};

function signingKey(name: string, spec: string, pem: string | undefined): { spec: string; key: KeyObject } {
  if (pem) return { spec, key: createPrivateKey(pem) };
  if (spec === 'ECC_NIST_P256') return { spec, key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey };
  const bits = /^RSA_(2048|3072|4096)$/.exec(spec);
  if (bits) return { spec, key: generateKeyPairSync('rsa', { modulusLength: Number(bits[1]) }).privateKey };
  throw new Error(`key ${name}: unsupported key spec ${spec}`);
}

/** Blob layout: magic `LKMS` | key-ARN length (u16 BE) | key ARN (utf8) | IV (12) | tag (16) | ciphertext. */
const MAGIC = Buffer.from('LKMS');

class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

async function loadKeys(keyFile: string, region: string): Promise<Map<string, KeyEntry>> {
  type Spec = { material?: string; deny?: string[]; spec?: string; private_key?: string };
  const json = JSON.parse(await readFile(keyFile, 'utf8')) as Record<string, string | Spec>;
  const keys = new Map<string, KeyEntry>();
  for (const [name, value] of Object.entries(json)) {
    const spec: Spec = typeof value === 'string' ? { material: value } : value;
    const material = Buffer.from(spec.material ?? '', 'base64');
    if (!spec.spec && material.length !== 32) throw new Error(`key ${name} in ${keyFile}: material must be 32 bytes of base64`);
    const arn = name.startsWith('arn:') ? name : `arn:aws:kms:${region}:000000000000:key/${name}`;
    const entry: KeyEntry = { arn, material, deny: new Set(spec.deny ?? []) };
    if (spec.spec) entry.signing = signingKey(name, spec.spec, spec.private_key);
    keys.set(arn, entry);
    keys.set(arn.slice(arn.lastIndexOf('/') + 1), entry);
  }
  return keys;
}

/** Canonical encryption context: keys sorted, as JSON; this is the GCM additional data. */
function aad(context: unknown): Buffer {
  const ctx = (context ?? {}) as Record<string, string>;
  const sorted = Object.keys(ctx)
    .sort()
    .map((k) => [k, ctx[k]]);
  return Buffer.from(JSON.stringify(sorted));
}

function seal(key: KeyEntry, plaintext: Buffer, context: unknown): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.material, iv);
  cipher.setAAD(aad(context));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const arn = Buffer.from(key.arn);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(arn.length);
  return Buffer.concat([MAGIC, len, arn, iv, cipher.getAuthTag(), body]);
}

function open(keys: Map<string, KeyEntry>, blob: Buffer, context: unknown, keyId: unknown): { key: KeyEntry; plaintext: Buffer } {
  const invalid = new KmsError('InvalidCiphertextException', 'The ciphertext is invalid or the encryption context does not match.');
  if (blob.length < MAGIC.length + 2 || !blob.subarray(0, 4).equals(MAGIC)) throw invalid;
  const arnLen = blob.readUInt16BE(4);
  const arnEnd = 6 + arnLen;
  if (blob.length < arnEnd + 28) throw invalid;
  const arn = blob.subarray(6, arnEnd).toString('utf8');
  const key = keys.get(arn);
  if (!key) throw new KmsError('NotFoundException', `Key '${arn}' does not exist`);
  if (typeof keyId === 'string' && keys.get(keyId) !== key) {
    throw new KmsError('IncorrectKeyException', 'The key ID in the request does not identify the key that encrypted the ciphertext.');
  }
  if (key.deny.has('Decrypt')) throw new KmsError('AccessDeniedException', `not authorized to perform kms:Decrypt on ${arn}`);
  const decipher = createDecipheriv('aes-256-gcm', key.material, blob.subarray(arnEnd, arnEnd + 12));
  decipher.setAAD(aad(context));
  decipher.setAuthTag(blob.subarray(arnEnd + 12, arnEnd + 28));
  try {
    return { key, plaintext: Buffer.concat([decipher.update(blob.subarray(arnEnd + 28)), decipher.final()]) };
  } catch {
    throw invalid;
  }
}

function keyFor(keys: Map<string, KeyEntry>, keyId: unknown, op: string): KeyEntry {
  const key = typeof keyId === 'string' ? keys.get(keyId) : undefined;
  if (!key) throw new KmsError('NotFoundException', `Key '${String(keyId)}' does not exist`);
  if (key.deny.has(op)) throw new KmsError('AccessDeniedException', `not authorized to perform kms:${op} on ${key.arn}`);
  return key;
}

function signingKeyFor(keys: Map<string, KeyEntry>, req: Record<string, unknown>, op: string): { entry: KeyEntry; key: KeyObject } {
  const entry = keyFor(keys, req.KeyId, op);
  if (!entry.signing) throw new KmsError('InvalidKeyUsageException', `${entry.arn} is not a SIGN_VERIFY key`);
  return { entry, key: entry.signing.key };
}

function algorithmsOf(entry: KeyEntry): string[] {
  return SIGNING_ALGORITHMS[entry.signing?.spec.startsWith('RSA') ? 'RSA' : (entry.signing?.spec ?? '')] ?? [];
}

/** The algorithm, padding and message of a Sign or Verify request, checked as KMS checks them. */
function signingInput(entry: KeyEntry, req: Record<string, unknown>): { message: Buffer; pss: boolean } {
  const algorithm = String(req.SigningAlgorithm ?? '');
  if (!algorithmsOf(entry).includes(algorithm))
    throw new KmsError('InvalidKeyUsageException', `${algorithm} is not a signing algorithm of ${entry.arn}`);
  const message = Buffer.from(String(req.Message ?? ''), 'base64');
  if (message.length === 0 || message.length > 4096) throw new KmsError('ValidationException', 'Message must be 1 to 4096 bytes');
  if (req.MessageType === 'DIGEST') throw new KmsError('ValidationException', 'MessageType DIGEST is not implemented by this endpoint');
  return { message, pss: algorithm.startsWith('RSASSA_PSS') };
}

function keyOptions(key: KeyObject, pss: boolean) {
  return pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : { key, dsaEncoding: 'der' as const };
}

type Handler = (keys: Map<string, KeyEntry>, req: Record<string, unknown>) => Record<string, unknown>;

const OPERATIONS: Record<string, Handler> = {
  Encrypt(keys, req) {
    const key = keyFor(keys, req.KeyId, 'Encrypt');
    const blob = seal(key, Buffer.from(String(req.Plaintext ?? ''), 'base64'), req.EncryptionContext);
    return { CiphertextBlob: blob.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  },
  Decrypt(keys, req) {
    const { key, plaintext } = open(keys, Buffer.from(String(req.CiphertextBlob ?? ''), 'base64'), req.EncryptionContext, req.KeyId);
    return { Plaintext: plaintext.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  },
  GetPublicKey(keys, req) {
    // KMS: a symmetric key has no public key to give.
    if (!keyFor(keys, req.KeyId, 'GetPublicKey').signing) throw new KmsError('UnsupportedOperationException', 'the key is symmetric');
    const { entry, key } = signingKeyFor(keys, req, 'GetPublicKey');
    const der = createPublicKey(key).export({ type: 'spki', format: 'der' });
    return {
      KeyId: entry.arn,
      PublicKey: der.toString('base64'),
      KeySpec: entry.signing?.spec,
      KeyUsage: 'SIGN_VERIFY',
      SigningAlgorithms: algorithmsOf(entry),
    };
  },
  Sign(keys, req) {
    const { entry, key } = signingKeyFor(keys, req, 'Sign');
    const { message, pss } = signingInput(entry, req);
    const signature = sign('sha256', message, keyOptions(key, pss));
    return { KeyId: entry.arn, Signature: signature.toString('base64'), SigningAlgorithm: req.SigningAlgorithm };
  },
  Verify(keys, req) {
    const { entry, key } = signingKeyFor(keys, req, 'Verify');
    const { message, pss } = signingInput(entry, req);
    const signature = Buffer.from(String(req.Signature ?? ''), 'base64');
    const ok = verify('sha256', message, keyOptions(createPublicKey(key), pss), signature);
    // KMS answers an invalid signature with an error, not with SignatureValid: false.
    if (!ok) throw new KmsError('KMSInvalidSignatureException', 'The signature is invalid.');
    return { KeyId: entry.arn, SignatureValid: true, SigningAlgorithm: req.SigningAlgorithm };
  },
  GenerateDataKey(keys, req) {
    const key = keyFor(keys, req.KeyId, 'GenerateDataKey');
    const bytes = req.KeySpec === 'AES_128' ? 16 : typeof req.NumberOfBytes === 'number' ? req.NumberOfBytes : 32;
    const plaintext = randomBytes(bytes);
    const blob = seal(key, plaintext, req.EncryptionContext);
    return { CiphertextBlob: blob.toString('base64'), Plaintext: plaintext.toString('base64'), KeyId: key.arn };
  },
};

function reply(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
  res.end(JSON.stringify(body));
}

async function handle(
  keys: Map<string, KeyEntry>,
  calls: Record<string, number>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const target = String(req.headers['x-amz-target'] ?? '');
  const op = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : target;
  calls[op] = (calls[op] ?? 0) + 1;
  const handler = OPERATIONS[op];
  if (!handler) return reply(res, 400, { __type: 'UnknownOperationException', message: `unsupported operation ${target}` });
  try {
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
    reply(res, 200, handler(keys, body));
  } catch (err) {
    if (err instanceof KmsError) return reply(res, 400, { __type: err.type, message: err.message });
    reply(res, 400, { __type: 'ValidationException', message: (err as Error).message });
  }
}

/** Starts a local KMS endpoint on 127.0.0.1 serving the keys of `keyFile`. */
export async function startKmsServer(options: KmsServerOptions): Promise<KmsServer> {
  const keys = await loadKeys(options.keyFile, options.region ?? 'us-east-1');
  const calls: Record<string, number> = {};
  const server = createServer((req, res) => {
    if (options.onCall) {
      const operation =
        String(req.headers['x-amz-target'] ?? '')
          .split('.')
          .pop() ?? '';
      res.once('finish', () => options.onCall?.(operation));
    }
    handle(keys, calls, req, res).catch((err: Error) => reply(res, 500, { __type: 'KMSInternalException', message: err.message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
