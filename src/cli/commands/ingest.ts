import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { knownFormats } from '../../collectors/registry.js';
import { DEFAULT_LAKE_WRITER, LakeWriter } from '../../lake/lake-writer.js';
import { isS3Url } from '../../lake/s3-storage.js';
import { DEFAULT_BATCH_SIZE, ingestFiles } from '../../pipeline/ingest.js';
import { parseInputUrl, s3InputSet } from '../../pipeline/s3-inputs.js';
import type { RunSummary } from '../../pipeline/stats.js';
import { type Command, EXIT, type Io, UsageError } from '../command.js';
import { openStorage } from '../lake-options.js';
import { progressReporter } from '../progress.js';

const HELP = `Usage: auditlake ingest <paths|s3://bucket/prefix...> --out <dir|s3://bucket/prefix> [options]

Reads PostgreSQL audit records and writes them to the lake as partitioned Parquet:
  <out>/events/source=<source>/event_date=<YYYY-MM-DD>/part-<input>-<n>.parquet
Records that cannot be read go to <out>/_quarantine/ with the reason; the run goes on.
Ingesting the same input again replaces its files: no duplicate events.

Paths are files or folders (read recursively); .gz inputs are read transparently.
An s3://bucket/prefix input reads every object under the prefix; objects ingested by an earlier
run (same key and ETag, remembered in <out>/_state/s3-inputs/) are skipped and counted.

Options:
  --out <dir>          lake root: a folder (created if missing) or s3://bucket/prefix
  --format <format>    ${knownFormats().join('|')} (default: auto, detected per input)
  --json               print the run summary as one JSON object on stdout
  --roll-mb <n>        roll a partition's Parquet file at about n MB of staged rows (default: ${DEFAULT_LAKE_WRITER.rollBytes / 1024 / 1024})
  --compression <c>    zstd|snappy (default: zstd)
  --sse-kms-key <id>   S3 lakes: encrypt with this KMS key (SSE-KMS; default: SSE-S3, AES256)
  -h, --help           show this help

Exit status: 0 when the run completed (even with quarantined records), 1 when an input could
not be opened or its format was not recognized, 2 for a usage error.
`;

/** Files under the given paths (folders read recursively, hidden entries skipped), in sorted order. */
export async function expandPaths(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (path: string): Promise<void> => {
    let s: Awaited<ReturnType<typeof stat>>;
    try {
      s = await stat(path);
    } catch {
      out.push(path); // reported as unreadable by the pipeline, with its name
      return;
    }
    if (!s.isDirectory()) {
      out.push(path);
      return;
    }
    const entries = (await readdir(path)).filter((e) => !e.startsWith('.')).sort();
    for (const e of entries) await walk(join(path, e));
  };
  for (const p of paths) await walk(p);
  return out;
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}

/** The human summary of a run. */
export function formatSummary(s: RunSummary, out: string): string {
  const lines = [`ingested ${plural(s.inputs.length, 'input')}: ${plural(s.records, 'record')} in ${(s.duration_ms / 1000).toFixed(1)} s`];
  lines.push(`  events written: ${s.events.toLocaleString('en-US')}`);
  for (const [source, classes] of Object.entries(s.events_by_source)) {
    const parts = Object.entries(classes)
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} ${n.toLocaleString('en-US')}`);
    lines.push(`    ${source.padEnd(8)} ${parts.join(', ')}`);
  }
  lines.push(`  quarantined: ${s.quarantined.toLocaleString('en-US')}${s.quarantined ? ` (see ${out}/_quarantine/)` : ''}`);
  const skipped = Object.entries(s.skipped);
  lines.push(
    `  skipped on purpose: ${skipped.reduce((n, [, v]) => n + v, 0).toLocaleString('en-US')}${skipped.map(([r, n]) => `\n    ${n.toLocaleString('en-US')} ${r}`).join('')}`,
  );
  if (s.already_ingested !== undefined) lines.push(`  already ingested, unchanged: ${plural(s.already_ingested, 'S3 object')}`);
  if (s.alerts) lines.push(`  alerts raised: ${s.alerts.toLocaleString('en-US')}`);
  lines.push(`  files written: ${s.files_written} under ${out}`);
  for (const i of s.inputs.filter((x) => x.error)) lines.push(`  FAILED ${i.input}: ${i.error}`);
  return `${lines.join('\n')}\n`;
}

/** `auditlake ingest`. */
export const ingestCommand: Command = {
  name: 'ingest',
  summary: 'read audit logs into the lake as partitioned Parquet',
  help: HELP,
  async run(args: string[], io: Io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        format: { type: 'string', default: 'auto' },
        json: { type: 'boolean', default: false },
        'roll-mb': { type: 'string' },
        compression: { type: 'string', default: 'zstd' },
        'sse-kms-key': { type: 'string' },
      },
    });
    if (positionals.length === 0) throw new UsageError('no input paths given');
    const format = values.format as string;
    if (!knownFormats().includes(format)) throw new UsageError(`--format ${format}: expected one of ${knownFormats().join(', ')}`);
    const compression = values.compression as string;
    if (compression !== 'zstd' && compression !== 'snappy') throw new UsageError(`--compression ${compression}: expected zstd or snappy`);
    const rollMb = values['roll-mb'] === undefined ? DEFAULT_LAKE_WRITER.rollBytes / 1024 / 1024 : Number(values['roll-mb']);
    if (!Number.isFinite(rollMb) || rollMb <= 0) throw new UsageError(`--roll-mb ${values['roll-mb']}: expected a positive number`);
    const s3Inputs = positionals.filter(isS3Url);
    for (const url of s3Inputs) {
      try {
        parseInputUrl(url);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const storage = openStorage(values.out, '--out', { sseKmsKeyId: values['sse-kms-key'] });
    const lake = await LakeWriter.open(storage, {
      rollBytes: rollMb * 1024 * 1024,
      parquet: { ...DEFAULT_LAKE_WRITER.parquet, compression },
    });
    const progress = io.tty && !values.json ? progressReporter(io) : undefined;
    const local = positionals.filter((p) => !isS3Url(p));
    const summary = await ingestFiles(
      await expandPaths(local),
      lake,
      {
        format,
        batchSize: DEFAULT_BATCH_SIZE,
        collectorOptions: {},
        observers: [],
        onProgress: progress?.update,
      },
      s3Inputs.map((url) => s3InputSet(url)),
    );
    progress?.done();
    io.out(values.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary, storage.url));
    return summary.failed_inputs > 0 ? EXIT.failed : EXIT.ok;
  },
};
