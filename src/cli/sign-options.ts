import type { Signer } from '../lake/integrity/signers.js';
import { ed25519FileSigner, kmsSigner } from '../lake/integrity/signers.js';
import { UsageError } from './command.js';

/** `parseArgs` options of the commands that write the lake: how its digests are signed. */
export const SIGN_OPTIONS = {
  'sign-key': { type: 'string' },
  'sign-kms-key': { type: 'string' },
} as const;

/** Help lines for {@link SIGN_OPTIONS}. */
export const SIGN_HELP = `  --sign-kms-key <id>     sign each unit's digest with this KMS asymmetric key (kms:Sign; ECC_NIST_P256 or RSA)
  --sign-key <file>       sign each unit's digest with this Ed25519 private key (PEM); without either, digests
                          are chained but unsigned (see auditlake verify)`;

/** The signer the options name, or null (digests chained, unsigned). Checks the key at start-up. */
export async function signerFrom(values: { 'sign-key'?: string; 'sign-kms-key'?: string }): Promise<Signer | null> {
  const file = values['sign-key'];
  const kms = values['sign-kms-key'];
  if (file && kms) throw new UsageError('--sign-key and --sign-kms-key: give one');
  if (kms) return kmsSigner(kms);
  if (file) return ed25519FileSigner(file);
  return null;
}
