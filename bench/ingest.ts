/**
 * csvlog -> Parquet ingest throughput and memory, against DuckDB in the same run:
 * `npm run bench:ingest -- [--mb 200] [--real-mb 200] [--runs 3] [--flat] [--profile] [--peer-threads 2] [--input <csvlog>]`.
 *
 *  - inputs: a generated PostgreSQL 15 csvlog of `--mb` MiB, ~96% pgAudit lines (`generate-csvlog.ts`), and a
 *    csvlog of `--real-mb` MiB recorded from a real PostgreSQL 15 + pgAudit server (`record-real-log.ts`;
 *    `--real-mb 0` leaves it out); both cached;
 *  - auditlake: the real CLI as users install it (`dist/cli/bin.js`, built first) in a child process,
 *    `ingest <file> --out <lake> --json`; its summary and the
 *    lake's Parquet files (read back by DuckDB) are checked against the generator's ground truth;
 *  - peer: DuckDB `read_csv` + regex split + zstd Parquet on 2 threads (`lib/duckdb-peer.ts`), also a child;
 *  - runs interleaved (the machine is shared and noisy); medians; peak RSS from GNU time;
 *  - the recorded log and `--input <csvlog>` (any log, instead of both) have no ground truth: the checks are
 *    that the lake holds as many events as the summary reports, and records/s counts the summary's records;
 *  - `--flat` also ingests a log twice the size and compares peak RSS;
 *  - `--profile` runs auditlake once more under `node --cpu-prof` and prints where the main thread's time went.
 * Targets are printed as PASS/MISS and never fail the process; a crashed ingest or a wrong event count does
 * (exit code 1, after everything is printed).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DATA_DIR, ensureCsvlog, type GeneratedLog } from './generate-csvlog.js';
import { formatProfile, summarizeProfile } from './lib/cpu-profile.js';
import { type Measured, runMeasured } from './lib/measure.js';
import { resultTable, type Series, targetLines } from './lib/report.js';
import { checkLake, checkSummary, parquetRows, parseSummary } from './lib/verify.js';
import { ensureRealCsvlog } from './record-real-log.js';

const ROOT = resolve(DATA_DIR, '../..');
const SCRATCH = join(DATA_DIR, 'tmp');
const PROFILE_DIR = join(DATA_DIR, 'prof');
/** Ratio to DuckDB, peak RSS, and how much peak RSS may grow when the input doubles and still count as flat. */
const BARS = { ratio: 0.5, rssMb: 300, flatGrowth: 0.1 };

const { values: opts } = parseArgs({
  options: {
    mb: { type: 'string', default: '200' },
    'real-mb': { type: 'string', default: '200' },
    runs: { type: 'string', default: '3' },
    flat: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'peer-threads': { type: 'string', default: '2' },
    input: { type: 'string' },
  },
});
const mb = Number(opts.mb);
const realMb = Number(opts['real-mb']);
const runs = Number(opts.runs);
if (!(mb > 0) || !(realMb >= 0) || !(runs >= 0)) throw new Error('--mb must be positive, --real-mb and --runs counts');

/** Runs that crashed, and runs whose output did not match the generated ground truth. */
const trouble = { crashed: 0, wrong: 0 };
const say = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * The CLI as users install it: `dist/cli/bin.js`, compiled by `npm run build` at the start of the bench
 * (`buildCli`). The development launcher `bin/auditlake.js` compiles TypeScript as it loads, which adds
 * about 35 MB of peak RSS and 0.7 s of CPU to every run: it would measure tsx, not auditlake.
 */
const CLI = 'dist/cli/bin.js';
function auditlakeCommand(extraNodeArgs: string[]): { args: string[]; env: NodeJS.ProcessEnv } {
  return { args: [...extraNodeArgs, CLI], env: process.env };
}

/** Compiles src/ into dist/, so the runs measure the code of this checkout. */
function buildCli(): void {
  process.stderr.write('building the CLI (npm run build) ...\n');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

function report(what: string, problems: string[]): void {
  if (problems.length === 0) return;
  trouble.wrong++;
  for (const p of problems) say(`  VERIFY FAILED ${what}: ${p}`);
}

/** A run that exited non-zero: the reason from the JSON summary (failed inputs) or stderr. */
function failed(what: string, m: Measured): void {
  trouble.crashed++;
  const inputErrors = (parseSummary(m.stdout)?.inputs ?? []).filter((i) => i.error).map((i) => `${i.input}: ${i.error?.split('\n')[0]}`);
  const stderr = m.stderr.trim().split('\n').slice(-10);
  const why = [...inputErrors, ...stderr].filter(Boolean).map((l) => `      ${l}`);
  say(`  ${what} FAILED: exit ${m.code} after ${m.wallS.toFixed(1)} s, ${m.peakRssMb.toFixed(0)} MB peak`);
  say(why.length ? why.join('\n') : '      (no output)');
}

/** A log to benchmark: generated (with its ground truth) or given with `--input` (without). */
type BenchLog = Omit<GeneratedLog, 'truth'> & { truth: GeneratedLog['truth'] | null; origin: string };
/** Records of a log without ground truth, as the last completed auditlake run reports them. */
const observedRecords = new Map<string, number>();

async function runAuditlake(log: BenchLog, tag: string, nodeArgs: string[] = []): Promise<Measured> {
  const lake = join(SCRATCH, `lake-${tag}`);
  await rm(lake, { recursive: true, force: true });
  const cli = auditlakeCommand(nodeArgs);
  const m = await runMeasured(process.execPath, [...cli.args, 'ingest', log.path, '--out', lake, '--json'], {
    cwd: ROOT,
    scratch: SCRATCH,
    env: cli.env,
  });
  if (m.code !== 0) failed(`auditlake (${tag})`, m);
  else {
    const summary = parseSummary(m.stdout);
    let lakeCheck: { rows: number; problems: string[] };
    if (log.truth) {
      report(`auditlake summary (${tag})`, checkSummary(summary, log.truth));
      lakeCheck = await checkLake(lake, log.truth);
    } else {
      const rows = await parquetRows(join(lake, 'events/**/*.parquet'));
      observedRecords.set(log.path, summary?.records ?? Number.NaN);
      lakeCheck = {
        rows,
        problems: rows === summary?.events ? [] : [`Parquet holds ${rows} events, the summary reports ${summary?.events}`],
      };
    }
    report(`auditlake lake (${tag})`, lakeCheck.problems);
    say(
      `  auditlake ${tag}: ${m.wallS.toFixed(1)} s, ${m.peakRssMb.toFixed(0)} MB peak; Parquet holds ${lakeCheck.rows.toLocaleString('en-US')} events${lakeCheck.problems.length ? '' : log.truth ? ' (= generated)' : ' (= summary)'}`,
    );
  }
  await rm(lake, { recursive: true, force: true });
  return m;
}

async function runPeer(log: BenchLog, tag: string): Promise<Measured> {
  const out = join(SCRATCH, `peer-${tag}.parquet`);
  await rm(out, { force: true });
  const args = ['--import', 'tsx', 'bench/lib/duckdb-peer.ts', log.path, out, opts['peer-threads'] as string];
  const m = await runMeasured(process.execPath, args, { cwd: ROOT, scratch: SCRATCH });
  if (m.code !== 0) failed(`DuckDB peer (${tag})`, m);
  else {
    const rows = await parquetRows(out);
    if (log.truth && rows !== log.truth.audit)
      report(`DuckDB peer (${tag})`, [`wrote ${rows} rows, ${log.truth.audit} AUDIT lines generated`]);
    say(`  DuckDB  ${tag}: ${m.wallS.toFixed(1)} s, ${m.peakRssMb.toFixed(0)} MB peak; ${rows.toLocaleString('en-US')} AUDIT rows`);
  }
  await rm(out, { force: true });
  return m;
}

/**
 * The code under test: the commit, and a key that changes only when src/ or bin/ do (their tree ids plus any
 * uncommitted diff), since other people may be editing them while the benchmark runs.
 */
function codeVersion(): { label: string; key: string } {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 }).trim();
    const diff = git('diff', 'HEAD', '--', 'src', 'bin');
    const untracked = git('ls-files', '--others', '--exclude-standard', '--', 'src', 'bin');
    const key = createHash('sha256')
      .update(`${git('rev-parse', 'HEAD:src', 'HEAD:bin')}\n${diff}\n${untracked}`)
      .digest('hex')
      .slice(0, 12);
    const dirty = diff || untracked ? ' + uncommitted changes under src/' : ', src/ clean';
    return { label: `${git('rev-parse', '--short', 'HEAD')}${dirty} (code key ${key})`, key };
  } catch {
    return { label: 'unknown (not a git checkout)', key: '' };
  }
}

function describe(log: BenchLog): string {
  const t = log.truth;
  if (!t) return `input ${log.path}: ${(log.bytes / 1e6).toFixed(1)} MB (${log.origin}: no ground truth)`;
  const pct = (n: number) => `${((n / t.records) * 100).toFixed(1)}%`;
  return [
    `input ${log.path}: ${(log.bytes / 1e6).toFixed(1)} MB, ${t.records.toLocaleString('en-US')} records (${(log.bytes / t.records).toFixed(0)} B/record), ${t.sessions.toLocaleString('en-US')} sessions, ${t.firstTime} .. ${t.lastTime}`,
    `  AUDIT ${t.audit.toLocaleString('en-US')} (${pct(t.audit)}; OBJECT ${t.auditObject.toLocaleString('en-US')}), events expected ${t.events.toLocaleString('en-US')}: ${Object.entries(
      t.byClass,
    )
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} ${n.toLocaleString('en-US')}`)
      .join(', ')}; skipped server lines ${t.skipped.toLocaleString('en-US')}`,
    `  the regex peer misreads ${((t.auditQuoted / t.audit) * 100).toFixed(1)}% of AUDIT rows (CSV quotes left in a value), ${((t.auditParamSplit / t.audit) * 100).toFixed(1)}% cut at the wrong comma (PARAMETER lists)`,
  ].join('\n');
}

async function profile(log: BenchLog): Promise<void> {
  await rm(PROFILE_DIR, { recursive: true, force: true });
  await mkdir(PROFILE_DIR, { recursive: true });
  say(`\nprofiling auditlake (node --cpu-prof --cpu-prof-dir=${PROFILE_DIR}) ...`);
  const m = await runAuditlake(log, 'profile', ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`]);
  const files = (await readdir(PROFILE_DIR)).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return say(`  no .cpuprofile written (exit ${m.code})`);
  say(formatProfile(await summarizeProfile(join(PROFILE_DIR, files[0]), ROOT, 15)));
  say(`(profile kept in ${join(PROFILE_DIR, files[0])}; open it in Chrome DevTools > Performance for the flame chart)`);
}

/** Interleaved rounds of auditlake and the peer on one log (and on `doubled`, for flatness); prints the table and targets. */
async function benchLog(log: BenchLog, doubled: BenchLog | null, name: string): Promise<void> {
  say(`\n## ${name}\n`);
  say(describe(log));
  const records = log.truth?.records ?? Number.NaN;
  const series: Series[] = [
    { label: 'auditlake ingest', bytes: log.bytes, records, runs: [] },
    { label: `DuckDB read_csv + regex -> Parquet (${opts['peer-threads']} threads)`, bytes: log.bytes, records, runs: [] },
  ];
  const flat: Series | null = doubled
    ? { label: 'auditlake ingest (2x input)', bytes: doubled.bytes, records: doubled.truth?.records ?? Number.NaN, runs: [] }
    : null;
  for (let i = 0; i < runs; i++) {
    say(`\nround ${i + 1} of ${runs}`);
    // Alternate who goes first, so a noisy neighbour's burst does not always hit the same contender.
    if (i % 2 === 0) {
      series[0].runs.push(await runAuditlake(log, `${i + 1}`));
      series[1].runs.push(await runPeer(log, `${i + 1}`));
    } else {
      series[1].runs.push(await runPeer(log, `${i + 1}`));
      series[0].runs.push(await runAuditlake(log, `${i + 1}`));
    }
    if (flat && doubled) flat.runs.push(await runAuditlake(doubled, `${i + 1}-2x`));
  }
  if (!log.truth) for (const s of series) s.records = observedRecords.get(log.path) ?? Number.NaN;
  if (runs === 0) return;
  say(`\nmedians of ${runs} interleaved runs (MB = 10^6 bytes; records/s and MB/s are of the csvlog input):\n`);
  say(resultTable(flat ? [...series, flat] : series));
  say('\ntargets:');
  for (const line of targetLines(series[0], series[1], flat, BARS)) say(line);
}

async function main(): Promise<void> {
  await mkdir(SCRATCH, { recursive: true });
  const logs: { log: BenchLog; doubled: BenchLog | null; name: string }[] = [];
  if (opts.input) {
    const given: BenchLog = { path: resolve(opts.input), bytes: (await stat(opts.input)).size, truth: null, origin: 'given with --input' };
    logs.push({ log: given, doubled: null, name: 'the log given with --input' });
  } else {
    const generated: BenchLog = { ...(await ensureCsvlog(mb)), origin: 'generated' };
    const doubled: BenchLog | null = opts.flat ? { ...(await ensureCsvlog(mb * 2)), origin: 'generated' } : null;
    logs.push({ log: generated, doubled, name: `generated csvlog (${mb} MiB)` });
    if (realMb > 0) {
      const real = await ensureRealCsvlog(realMb, (line) => process.stderr.write(`${line}\n`));
      const origin = 'recorded from a real PostgreSQL 15 + pgAudit server under pgbench';
      logs.push({ log: { ...real, truth: null, origin }, doubled: null, name: `real csvlog (${realMb} MiB, ${origin})` });
    }
  }
  say(
    `bench:ingest  node ${process.version}, ${cpus().length} CPUs, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const codeAtStart = codeVersion();
  buildCli();
  say(`code under test: ${codeAtStart.label}, run as ${CLI}`);
  for (const { log, doubled, name } of logs) await benchLog(log, doubled, name);
  if (runs > 0) {
    const clean = trouble.crashed === 0 && trouble.wrong === 0;
    say(
      `\ncorrectness: ${clean ? 'every run wrote exactly the events expected (generated: the ground truth; recorded: its own summary), in the summary and in Parquet' : `${trouble.crashed} runs crashed, ${trouble.wrong} checks failed (see above)`}`,
    );
  }
  if (opts.profile) await profile(logs[0].log);
  const codeAtEnd = codeVersion();
  if (codeAtEnd.key !== codeAtStart.key)
    say(`\nWARNING: src/ or bin/ changed during the run (now ${codeAtEnd.label}); runs may have measured different code`);
  const load = loadavg().map((l) => l.toFixed(1));
  say(`\nload average at the end: ${load.join(' ')}`);
  if (trouble.crashed || trouble.wrong) process.exitCode = 1;
}

await main();
