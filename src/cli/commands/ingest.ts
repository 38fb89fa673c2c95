import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { knownFormats } from '../../collectors/registry.js';
import { FsStorage } from '../../lake/fs-storage.js';
import { DEFAULT_LAKE_WRITER, LakeWriter } from '../../lake/lake-writer.js';
import { useLeanHeap } from '../../lake/lean-heap.js';
import { isS3Url } from '../../lake/s3-storage.js';
import { DEFAULT_BATCH_SIZE, ingestFiles } from '../../pipeline/ingest.js';
import { parseInputUrl, s3InputSet } from '../../pipeline/s3-inputs.js';
import type { RunSummary } from '../../pipeline/stats.js';
import { createSqlRedactor, loadRedactConfig, type SqlRedactor } from '../../redact/index.js';
import { DEFAULT_PROJECTION_START, idKey } from '../../schema/index.js';
import { type Command, EXIT, fileModeOption, type Io, positiveOption, UsageError } from '../command.js';
import { DAS_HELP, DAS_OPTIONS, dasOptionsFrom } from '../das-options.js';
import { isCalendarDate } from '../day-options.js';
import { ingestKinesis, type KinesisRunSummary } from '../kinesis-ingest.js';
import { openStorage } from '../lake-options.js';
import { POLICY_HELP, POLICY_OPTIONS, policiesStageFrom } from '../policy-options.js';
import { progressReporter } from '../progress.js';
import { formatOutsideProjection, projectionCheck } from '../projection-check.js';
import { formatRulesReport, RULES_HELP, RULES_OPTIONS, rulesStageFrom } from '../rules-options.js';
import { SIGN_HELP, SIGN_OPTIONS, signerFrom } from '../sign-options.js';
import { onStopSignal } from '../signals.js';

const HELP = `Usage: auditlake ingest <paths|s3://bucket/prefix...> --out <dir|s3://bucket/prefix> [options]
       auditlake ingest --kinesis-stream <name> --out <dir|s3://bucket/prefix> [--from trim-horizon|latest] [--follow] [options]

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
  --json               print the run summary as one JSON object on stdout (on stderr with --alerts-jsonl -):
                       record_counts and event_counts each hold read = written + quarantined + skipped
  --roll-mb <n>        roll a partition's Parquet file at about n MB of staged rows (default: ${DEFAULT_LAKE_WRITER.rollBytes / 1024 / 1024})
  --compression <c>    zstd|snappy (default: zstd)
  --sse-kms-key <id>   S3 lakes: encrypt with this KMS key (SSE-KMS; default: SSE-S3, AES256)
  --projection-start <YYYY-MM-DD>
                       first event_date the Athena table's partition projection covers (default
                       ${DEFAULT_PROJECTION_START}): events dated earlier, or after today, are counted and
                       reported, as Athena cannot see them (they are written all the same)
  --file-mode <octal>  mode of the files a local lake gets (default 0600: they hold statement text)
  --redact <file>      extra redaction patterns (YAML: functions, settings); PASSWORD literals of
                       CREATE/ALTER ROLE/USER/GROUP are always redacted, in events and quarantine
${SIGN_HELP}
  -h, --help           show this help

A live Database Activity Stream (Kinesis; AWS_REGION and AWS_ENDPOINT_URL_KINESIS honoured):
  --kinesis-stream <name>  read every shard of this stream (aws-rds-das-<resource id>); per-shard
                           checkpoints are kept in <out>/_state/kinesis/ and a later run resumes there
  --from <position>        trim-horizon (default) or latest, for shards with no checkpoint
  --follow                 keep reading new records until SIGINT/SIGTERM (default: stop when caught up);
                           each unit written is logged as a JSON line on stdout
  --flush-events <n>       write a lake unit every n events (default 50000) ...
  --flush-seconds <s>      ... or every s seconds (default 60), then commit its checkpoints

${DAS_HELP}

${RULES_HELP}

${POLICY_HELP}

Each input is one unit: its files become visible to queries only once all of it is written (see
"Lake layout" in the README). An empty input is counted, not an error. An input whose content
equals one already read in this run is counted once; a record already stored by another input
(same session and line, or same DAS activity) is stored once and counted as already stored.
One writer per lake: a second ingest, compact or proxy on the same lake is refused, naming the holder.

SIGINT or SIGTERM stops reading: the input being read is rolled back (nothing of it is visible),
inputs already committed stay, the summary is printed (also with --json) and the exit status is
130 (SIGINT) or 143 (SIGTERM).

Exit status: 0 when the run completed (even with quarantined records), 1 when an input could
not be opened or read (its format not recognized, KMS unreachable, ...), 2 for a usage error,
130/143 when stopped by SIGINT/SIGTERM.
`;

/**
 * Files under the given paths (folders read recursively, hidden entries skipped), in sorted order. A
 * folder is entered once (by its real path), so symlink loops end; a file reached twice (named twice,
 * or through a link) is read once; the lake's own folder (`exclude`) is never read as input. An
 * unreadable entry is kept, so the pipeline reports it as a failed input with its name and the rest
 * is still read.
 */
export async function expandPaths(paths: string[], exclude?: string): Promise<string[]> {
  const out: string[] = [];
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();
  const excluded = exclude ? await realpath(exclude).catch(() => resolve(exclude)) : null;
  const walk = async (path: string): Promise<void> => {
    let s: Awaited<ReturnType<typeof stat>>;
    let real: string;
    try {
      s = await stat(path);
      real = await realpath(path);
    } catch {
      out.push(path); // reported as unreadable by the pipeline, with its name
      return;
    }
    if (excluded && (real === excluded || real.startsWith(`${excluded}${sep}`))) return;
    if (!s.isDirectory()) {
      if (seenFiles.has(real)) return;
      seenFiles.add(real);
      out.push(path);
      return;
    }
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    let entries: string[];
    try {
      entries = await readdir(path);
    } catch {
      out.push(path); // an unreadable folder: one failed input, the others are read
      return;
    }
    for (const e of entries.filter((x) => !x.startsWith('.')).sort()) await walk(join(path, e));
  };
  for (const p of paths) await walk(p);
  return out;
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}

/** The human summary of a run. */
export function formatSummary(s: RunSummary, out: string): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const r = s.record_counts;
  const e = s.event_counts;
  // Both lines add up; they differ where one record holds several events (DAS).
  const lines = [
    `ingested ${plural(s.inputs.length, 'input')} in ${(s.duration_ms / 1000).toFixed(1)} s`,
    `  records read: ${n(r.read)} = ${n(r.written)} with events written + ${n(r.quarantined)} quarantined + ${n(r.skipped)} skipped on purpose`,
    `  events read:  ${n(e.read)} = ${n(e.written)} written + ${n(e.quarantined)} quarantined + ${n(e.skipped)} skipped on purpose`,
  ];
  lines.push(`  events written: ${s.events.toLocaleString('en-US')}`);
  for (const [source, classes] of Object.entries(s.events_by_source)) {
    const parts = Object.entries(classes)
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} ${n.toLocaleString('en-US')}`);
    lines.push(`    ${source.padEnd(8)} ${parts.join(', ')}`);
  }
  lines.push(`  events quarantined: ${n(s.quarantined)}${s.quarantined ? ` (see ${out}/_quarantine/)` : ''}`);
  const skipped = Object.entries(s.skipped);
  lines.push(
    `  events skipped on purpose: ${n(skipped.reduce((sum, [, v]) => sum + v, 0))}${skipped.map(([reason, v]) => `\n    ${n(v)} ${reason}`).join('')}`,
  );
  if (s.empty_inputs) lines.push(`  empty inputs: ${s.empty_inputs}`);
  if (s.same_content_inputs) lines.push(`  inputs repeating another input's content (stored once): ${s.same_content_inputs}`);
  if (s.already_ingested !== undefined) lines.push(`  already ingested, unchanged: ${plural(s.already_ingested, 'S3 object')}`);
  if (s.alerts) lines.push(`  alerts raised: ${s.alerts.toLocaleString('en-US')}`);
  if (s.rules) lines.push(...formatRulesReport(s.rules));
  lines.push(`  files written: ${s.files_written} under ${out}`);
  for (const i of s.inputs.filter((x) => x.error && !x.interrupted)) lines.push(`  FAILED ${i.input}: ${i.error}`);
  for (const i of s.inputs.filter((x) => x.interrupted)) lines.push(`  ROLLED BACK ${i.input}: ${i.error}`);
  if (s.stopped_by) lines.push(`  stopped by ${s.stopped_by}: later inputs were not read`);
  return `${lines.join('\n')}\n`;
}

/** The human summary of a stream run. */
function formatStreamSummary(r: KinesisRunSummary, out: string): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const rc = r.record_counts;
  const e = r.event_counts;
  const skipped = Object.entries(r.skipped).map(([reason, v]) => `\n    ${n(v)} ${reason}`);
  return `read Kinesis stream ${r.stream}: ${n(r.records)} records, ${n(r.events)} events written in ${n(r.units)} units under ${out}
  records read: ${n(rc.read)} = ${n(rc.written)} with events written + ${n(rc.quarantined)} quarantined + ${n(rc.skipped)} skipped on purpose
  events read:  ${n(e.read)} = ${n(e.written)} written + ${n(e.quarantined)} quarantined + ${n(e.skipped)} skipped on purpose${skipped.join('')}
  delivered again (stored once): ${n(r.duplicate_events)}; alerts: ${n(r.alerts)}; KMS calls: ${r.kms_calls}
  checkpoints: ${JSON.stringify(r.checkpoints)}
`;
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
        redact: { type: 'string' },
        'file-mode': { type: 'string' },
        'kinesis-stream': { type: 'string' },
        from: { type: 'string', default: 'trim-horizon' },
        follow: { type: 'boolean', default: false },
        'flush-events': { type: 'string' },
        'flush-seconds': { type: 'string' },
        'projection-start': { type: 'string' },
        ...DAS_OPTIONS,
        ...RULES_OPTIONS,
        ...SIGN_OPTIONS,
        ...POLICY_OPTIONS,
      },
    });
    const stream = values['kinesis-stream'];
    if (stream && positionals.length > 0) throw new UsageError('give either input paths or --kinesis-stream, not both');
    if (!stream && positionals.length === 0) throw new UsageError('no input paths given');
    if (!stream && (values.follow || values['flush-events'] || values['flush-seconds']))
      throw new UsageError('--follow and --flush-* go with --kinesis-stream');
    const from = values.from as string;
    if (from !== 'trim-horizon' && from !== 'latest') throw new UsageError(`--from ${from}: expected trim-horizon or latest`);
    const flushEvents = positiveOption(values['flush-events'], 50_000, '--flush-events');
    const flushSeconds = positiveOption(values['flush-seconds'], 60, '--flush-seconds');
    const dasOptions = dasOptionsFrom(values);
    const format = values.format as string;
    if (!knownFormats().includes(format)) throw new UsageError(`--format ${format}: expected one of ${knownFormats().join(', ')}`);
    const compression = values.compression as string;
    if (compression !== 'zstd' && compression !== 'snappy') throw new UsageError(`--compression ${compression}: expected zstd or snappy`);
    const projectionStart = values['projection-start'] ?? DEFAULT_PROJECTION_START;
    if (!isCalendarDate(projectionStart))
      throw new UsageError(`--projection-start ${projectionStart}: expected a calendar date YYYY-MM-DD`);
    const rollMb = positiveOption(values['roll-mb'], DEFAULT_LAKE_WRITER.rollBytes / 1024 / 1024, '--roll-mb');
    const s3Inputs = positionals.filter(isS3Url);
    for (const url of s3Inputs) {
      try {
        parseInputUrl(url);
      } catch (e) {
        throw new UsageError((e as Error).message, { cause: e });
      }
    }
    const redactor = await redactorFrom(values.redact);
    const fileMode = fileModeOption(values['file-mode']);
    const storage = openStorage(values.out, '--out', { sseKmsKeyId: values['sse-kms-key'] });
    if (storage instanceof FsStorage) storage.fileMode = fileMode;
    // Rules and policies load before the lake opens, so a bad file fails without creating the lake folder.
    const rules = await rulesStageFrom(values);
    const policies = await policiesStageFrom(values);
    // SIGINT/SIGTERM: stop reading, roll back the input being read, commit nothing partial, print the summary.
    // Set before the lake is locked and kept until it is closed, so no signal finds the run without them.
    const stop = new AbortController();
    const removeSignals = stream ? () => {} : onStopSignal((signal) => stop.abort(signal));
    useLeanHeap();
    const lake = await LakeWriter.open(
      storage,
      { rollBytes: rollMb * 1024 * 1024, parquet: { ...DEFAULT_LAKE_WRITER.parquet, compression }, signer: await signerFrom(values) },
      undefined,
      { lock: stream ? 'ingest --kinesis-stream' : 'ingest' },
    ).catch((e) => {
      removeSignals();
      throw e;
    });
    // With alerts on stdout (--alerts-jsonl -) stdout carries only their JSON lines; the summary goes to stderr.
    const summaryTo = values['alerts-jsonl'] === '-' ? io.err : io.out;
    try {
      if (stream) {
        const result = await ingestKinesis(
          {
            stream,
            from,
            follow: values.follow as boolean,
            dasOptions,
            rules,
            policies,
            flushEvents,
            flushMs: flushSeconds * 1000,
            redactor,
          },
          lake,
          storage,
          io,
        );
        const withRules = rules ? { ...result, rules: rules.report() } : result;
        summaryTo(values.json ? `${JSON.stringify(withRules)}\n` : `${formatStreamSummary(withRules, storage.url)}`);
        return EXIT.ok;
      }
      const progress = io.tty && !values.json ? progressReporter(io, { json: values.json as boolean }) : undefined;
      const local = positionals.filter((p) => !isS3Url(p));
      const runKey = idKey('run', ...[...positionals].sort());
      const projection = projectionCheck(projectionStart);
      const summary: RunSummary = await ingestFiles(
        await expandPaths(local, isS3Url(storage.url) ? undefined : storage.url),
        lake,
        {
          format,
          batchSize: DEFAULT_BATCH_SIZE,
          collectorOptions: { das: dasOptions },
          observers: rules ? [rules.observe, projection.observe] : [projection.observe],
          transforms: policies ? [policies] : [],
          onProgress: progress?.update,
          onEnd: rules ? () => rules.finish(lake, runKey) : undefined,
          signal: stop.signal,
          redactor,
        },
        s3Inputs.map((url) => s3InputSet(url)),
      );
      progress?.done();
      if (rules) summary.rules = rules.report();
      const outside = projection.result();
      const full = outside ? { ...summary, outside_projection: outside } : summary;
      summaryTo(
        values.json ? `${JSON.stringify(full)}\n` : formatSummary(summary, storage.url) + (outside ? formatOutsideProjection(outside) : ''),
      );
      if (summary.stopped_by) return summary.stopped_by === 'SIGINT' ? 130 : 143;
      return summary.failed_inputs > 0 ? EXIT.failed : EXIT.ok;
    } finally {
      try {
        await lake.close();
        await storage.close();
      } finally {
        removeSignals();
      }
    }
  },
};

/** The redaction stage's redactor: built-in rules plus the patterns of `--redact <file>`; a bad file is a usage error. */
async function redactorFrom(file: string | undefined): Promise<SqlRedactor> {
  if (!file) return createSqlRedactor();
  try {
    return createSqlRedactor(await loadRedactConfig(file));
  } catch (e) {
    throw new UsageError(`--redact ${(e as Error).message}`);
  }
}
