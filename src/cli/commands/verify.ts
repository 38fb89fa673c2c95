import { parseArgs } from 'node:util';
import { kmsPublicKey, type TrustedKey, trustedKeyFile } from '../../lake/integrity/signers.js';
import { type VerifyEvent, type VerifySummary, verifyLake } from '../../lake/integrity/verify.js';
import { type Command, EXIT, UsageError } from '../command.js';
import { openStorage } from '../lake-options.js';
import { startProgress } from '../progress.js';

/** Exit code when verify finds anything: a modified, missing or unexpected file or a bad digest. */
export const EXIT_FOUND = 3;

const HELP = `Usage: auditlake verify --lake <dir|s3://bucket/prefix> [options]

Checks the lake against its digest chain (_state/digests/): every unit the lake committed appended a
digest naming the SHA-256 and size of each file it wrote and the files it removed, linked to the
previous digest by SHA-256 and signed when the writer had a key. verify walks the chain, then every
file under events/, alerts/, _quarantine/, _state/manifests/ and _state/compacted/, and reports each
file as valid, modified, missing or unexpected (present but in no digest), and every digest that is
unreadable, unsigned in a signed chain, badly signed, out of the chain (broken link) or missing (gap).
It streams: files are hashed as they are read, a few at a time.

Options:
  --lake <dir|s3://...>   lake root
  --since <date>          hash only files committed at or after this UTC date or time (YYYY-MM-DD or
                          ISO 8601); older files are checked by size. The chain is always walked whole.
  --public-key <file>     trust only signatures by this key (PEM public key, or the Ed25519 private
                          key file); repeatable
  --kms-key <id>          trust only signatures by this KMS key (its public key, via kms:GetPublicKey)
  --verbose               list valid files too
  --json                  one JSON object per line: every file, every digest problem, then the summary
  -h, --help              show this help

Without --public-key or --kms-key, signatures are checked against the key of the first signed digest.

Exit status: 0 when everything is valid, 3 when anything was found, 1 on an error, 2 on a usage error.
`;

function parseSince(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00Z`) : new Date(value);
  if (Number.isNaN(date.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value))
    throw new UsageError(`--since ${value}: expected YYYY-MM-DD or an ISO 8601 time`);
  return date;
}

/** One line of the human report for a finding. */
export function formatEvent(e: VerifyEvent): string {
  const label = e.type === 'file' ? e.status : e.problem;
  const detail = e.type === 'file' ? e.detail : e.detail;
  return `${label.toUpperCase().padEnd(13)} ${e.key}${detail ? `  (${detail})` : ''}\n`;
}

/** The human summary. */
export function formatVerifySummary(s: VerifySummary): string {
  const f = s.files;
  const total = f.valid + f.modified + f.missing + f.unexpected;
  const signing = s.signed > 0 ? `${s.signed} signed by ${s.signing_keys.map((k) => k.slice(0, 16)).join(', ')}` : 'unsigned';
  const lines = [
    `${s.lake}: ${s.digests} digest(s) (${signing}${s.signed > 0 && s.unsigned > 0 ? `, ${s.unsigned} unsigned` : ''}), ${s.digest_problems} digest problem(s)`,
    `${total} file(s): ${f.valid} valid, ${f.modified} modified, ${f.missing} missing, ${f.unexpected} unexpected (${s.hashed} hashed)`,
    ...s.notes.map((n) => `note: ${n}`),
    s.clean ? 'verify: clean' : `verify: FOUND ${s.digest_problems + f.modified + f.missing + f.unexpected} problem(s)`,
  ];
  return `${lines.join('\n')}\n`;
}

async function trustedKeys(files: string[], kmsKeys: string[]): Promise<TrustedKey[]> {
  const keys: TrustedKey[] = [];
  for (const f of files) keys.push(await trustedKeyFile(f));
  for (const id of kmsKeys) {
    const key = await kmsPublicKey(id);
    keys.push({ fingerprint: key.fingerprint, name: key.arn });
  }
  return keys;
}

/** `auditlake verify`. */
export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check the lake against its signed digest chain (exit 3 when anything is found)',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        lake: { type: 'string' },
        since: { type: 'string' },
        'public-key': { type: 'string', multiple: true },
        'kms-key': { type: 'string', multiple: true },
        verbose: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.join(' ')}`);
    const since = parseSince(values.since);
    const storage = openStorage(values.lake, '--lake');
    const trusted = await trustedKeys(values['public-key'] ?? [], values['kms-key'] ?? []);
    const progress = startProgress(io, { json: values.json as boolean, ticking: true });
    progress.update(`verify: reading the digest chain of ${storage.url}`, true);
    let summary: VerifySummary;
    try {
      summary = await verifyLake(storage, {
        since,
        trusted,
        onEvent(e) {
          if (values.json) io.out(`${JSON.stringify(e)}\n`);
          else if (values.verbose || e.type === 'digest' || e.status !== 'valid') {
            progress.clear();
            io.out(formatEvent(e));
          }
        },
        onProgress: ({ digests, files }) =>
          progress.update(`verify: ${digests.toLocaleString('en-US')} digests, ${files.toLocaleString('en-US')} files checked`),
      });
    } finally {
      progress.done();
    }
    const files = Object.values(summary.files).reduce((a, b) => a + b, 0);
    if (summary.digests === 0 && files === 0) throw new Error(`${storage.url}: no digests and no files: not a lake`);
    io.out(values.json ? `${JSON.stringify({ type: 'summary', ...summary })}\n` : formatVerifySummary(summary));
    return summary.clean ? EXIT.ok : EXIT_FOUND;
  },
};
