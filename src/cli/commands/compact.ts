import { parseArgs } from 'node:util';
import { type CompactionSummary, compactLake, DEFAULT_TARGET_BYTES } from '../../lake/compact.js';
import { acquireLakeLock } from '../../lake/lake-lock.js';
import { DEFAULT_PARQUET } from '../../lake/parquet-convert.js';
import { parseSource, type Source } from '../../schema/index.js';
import { type Command, EXIT, positiveOption, UsageError } from '../command.js';
import { isCalendarDate } from '../day-options.js';
import { openLakeForReading } from '../lake-options.js';
import { startProgress } from '../progress.js';
import { SIGN_HELP, SIGN_OPTIONS, signerFrom } from '../sign-options.js';

const HELP = `Usage: auditlake compact --lake <dir|s3://bucket/prefix> [options]

Merges small Parquet files so Athena reads few large files instead of many small ones: in each
partition, files smaller than the target are merged with DuckDB into files of about the target
size (part-c<id>-<n>.parquet, zstd, sorted by event_time). Row counts are checked before the old
files are removed. Each partition's compaction is one unit: its new files become visible and the
merged ones go in one commit (a journal in _state/journal/), so it is safe to kill at any point:
the next compact or ingest finishes or undoes it. It takes the lake's lock: while an ingest or
proxy writes the same lake, compact is refused with the holder's name.

Options:
  --lake <dir|s3://...>   lake root
  --date <YYYY-MM-DD>     only this event_date
  --source <source>       only this source (pgaudit, das, proxy)
  --target-mb <n>         merge files smaller than n MB into files of about n MB (default: ${DEFAULT_TARGET_BYTES / 1024 / 1024})
  --sse-kms-key <id>      S3 lakes: encrypt new files with this KMS key (default: SSE-S3)
${SIGN_HELP}
  --json                  print the summary as one JSON object
  -h, --help              show this help
`;

/** The human summary of a compaction. */
export function formatCompaction(s: CompactionSummary): string {
  const lines: string[] = [];
  if (s.recovered.rolledForward || s.recovered.rolledBack)
    lines.push(`finished ${s.recovered.rolledForward} and undid ${s.recovered.rolledBack} interrupted compaction(s)`);
  lines.push(
    `compacted ${s.partitions_compacted} of ${s.partitions} partition(s): ${s.files_merged} files merged into ${s.files_written}, ${s.rows.toLocaleString('en-US')} rows`,
  );
  return `${lines.join('\n')}\n`;
}

/** `auditlake compact`. */
export const compactCommand: Command = {
  name: 'compact',
  summary: 'merge small Parquet files of the lake (kill-safe)',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        lake: { type: 'string' },
        date: { type: 'string' },
        source: { type: 'string' },
        'target-mb': { type: 'string' },
        'sse-kms-key': { type: 'string' },
        json: { type: 'boolean', default: false },
        ...SIGN_OPTIONS,
      },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.join(' ')}`);
    if (values.date !== undefined && !isCalendarDate(values.date))
      throw new UsageError(`--date ${values.date}: expected a calendar date YYYY-MM-DD`);
    let source: Source | undefined;
    try {
      source = values.source === undefined ? undefined : parseSource(values.source);
    } catch (e) {
      throw new UsageError(`--source ${(e as Error).message}`, { cause: e });
    }
    const targetMb = positiveOption(values['target-mb'], DEFAULT_TARGET_BYTES / 1024 / 1024, '--target-mb');
    const storage = await openLakeForReading(values.lake, '--lake', { sseKmsKeyId: values['sse-kms-key'] });
    const lock = await acquireLakeLock(storage, 'compact');
    const progress = startProgress(io, { json: values.json as boolean, ticking: true });
    progress.update(`compacting ${storage.url}${values.date ? ` (event_date ${values.date})` : ''}`, true);
    let summary: CompactionSummary;
    try {
      summary = await compactLake(storage, {
        targetBytes: Math.round(targetMb * 1024 * 1024),
        date: values.date,
        source,
        parquet: DEFAULT_PARQUET,
        signer: await signerFrom(values),
      });
    } finally {
      progress.done();
      await lock.release();
      await storage.close();
    }
    io.out(values.json ? `${JSON.stringify(summary)}\n` : formatCompaction(summary));
    return EXIT.ok;
  },
};
