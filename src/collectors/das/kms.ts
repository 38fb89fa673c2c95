/**
 * Decrypting a DAS data key with KMS (formats.md 1.2 step 1): `kms:Decrypt` of the envelope's `key` under the
 * encryption context `{"aws:rds:dbc-id": <cluster resource id>}` (`aws:rds:db-id` for an instance stream).
 *
 * Throttling, 5xx and network failures are retried with jittered backoff and, if they persist, thrown as a
 * {@link DasTransientError} so the caller does not acknowledge the records (Kinesis checkpoint, Lambda batch
 * failure). A refusal that retrying cannot fix (access denied, wrong context, wrong key) is a value: the
 * records under that key are quarantined with the reason.
 */
import type { KMSClient } from '@aws-sdk/client-kms';

/** KMS error names that mean this ciphertext will never decrypt with this configuration. */
const PERMANENT_ERRORS = new Set([
  'AccessDeniedException',
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'NotFoundException',
  'DisabledException',
  'KMSInvalidStateException',
  'InvalidKeyUsageException',
  'InvalidGrantTokenException',
  'ValidationException',
]);

/** A failure that may go away: the records involved must not be acknowledged. */
export class DasTransientError extends Error {
  override readonly name = 'DasTransientError';
}

/** A decrypted data key, or why there is none. */
export type DataKeyResult = { ok: true; key: Uint8Array } | { ok: false; reason: string };

const STREAM_PREFIX = 'aws-rds-das-';

/**
 * The resource id a DAS stream belongs to, from its name or ARN: `aws-rds-das-cluster-ABC` gives `cluster-ABC`.
 * Null when the name does not follow the DAS naming.
 */
export function resourceIdFromStream(nameOrArn: string): string | null {
  const name = nameOrArn.slice(nameOrArn.lastIndexOf('/') + 1);
  return name.startsWith(STREAM_PREFIX) && name.length > STREAM_PREFIX.length ? name.slice(STREAM_PREFIX.length) : null;
}

/** The KMS encryption context DAS binds data keys to: instance resource ids (`db-…`) use `aws:rds:db-id`. */
export function encryptionContextFor(resourceId: string): Record<string, string> {
  return resourceId.startsWith('db-') ? { 'aws:rds:db-id': resourceId } : { 'aws:rds:dbc-id': resourceId };
}

interface AwsError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

function isPermanent(err: AwsError): boolean {
  if (err.name && PERMANENT_ERRORS.has(err.name)) return true;
  const status = err.$metadata?.httpStatusCode;
  // Other 4xx than throttling are refusals too; 429 and unnamed throttles are retried.
  return status !== undefined && status >= 400 && status < 500 && status !== 429 && !/throttl|limit/i.test(err.name ?? '');
}

/** Waits `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Full-jitter exponential backoff delay for attempt `n` (0-based). */
export function backoffDelay(n: number, baseMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** n);
}

/**
 * Decrypts one data key ciphertext under the DAS encryption context of `resourceId`. Transient failures
 * (throttling, 5xx, network) are retried by the KMS client's own retry strategy, which honours
 * `maxAttempts` and `AWS_MAX_ATTEMPTS`/`AWS_RETRY_MODE`; one that survives it is a DasTransientError
 * naming the attempts, and a refusal (wrong key, wrong context) is a reason the record is quarantined for.
 */
export async function decryptDataKey(kms: KMSClient, blob: Uint8Array, resourceId: string): Promise<DataKeyResult> {
  // Loaded here, by the first data key, so that runs without DAS input never load the KMS SDK.
  const { DecryptCommand } = await import('@aws-sdk/client-kms');
  const command = new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: encryptionContextFor(resourceId) });
  try {
    const { Plaintext } = await kms.send(command);
    if (Plaintext?.length !== 32) return { ok: false, reason: `KMS returned a data key of ${Plaintext?.length ?? 0} bytes, not 32` };
    // A fresh Uint8Array: the raw AES keyring keeps (and may zero) the bytes it is given.
    return { ok: true, key: new Uint8Array(Plaintext) };
  } catch (caught) {
    const err = caught as AwsError & { $metadata?: { attempts?: number } };
    if (isPermanent(err)) return { ok: false, reason: `KMS Decrypt of the data key failed: ${err.name}: ${err.message}` };
    const attempts = err.$metadata?.attempts ?? 1;
    throw new DasTransientError(
      `KMS Decrypt failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${err.name ?? 'Error'}: ${err.message}`,
      {
        cause: caught,
      },
    );
  }
}
