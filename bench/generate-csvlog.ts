/**
 * A realistic PostgreSQL 15 csvlog with pgAudit lines, for benchmarks:
 * `npx tsx bench/generate-csvlog.ts [--mb 200] [--force]`.
 *
 * Written once and cached in `bench/.data/` (git-ignored) with its ground truth beside it
 * (`<file>.truth.json`: records, events by class, ...). Streamed in ~1 MiB writes, so memory stays flat
 * whatever the size. The log spans two days of log time at any size; ~96% of its records are AUDIT lines.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CsvlogGenerator, type GroundTruth } from './lib/csvlog-generator.js';

/** Bump when the generated content changes, so cached files are rebuilt. */
export const GENERATOR_VERSION = 2;
/** Where benchmark inputs and scratch files live (git-ignored). */
export const DATA_DIR = fileURLToPath(new URL('./.data/', import.meta.url));

const SEED = 0x5eed_2024;
const START_MS = Date.UTC(2024, 4, 1, 0, 0, 0);
const SPAN_MS = 2 * 86_400_000 - 1000;
const FLUSH_CHARS = 1 << 20;
const MIB = 1024 * 1024;

/** A generated log and what it holds. */
export interface GeneratedLog {
  path: string;
  bytes: number;
  truth: GroundTruth;
}

/** Path of the cached log of `mb` MiB. */
export function csvlogPath(mb: number): string {
  return join(DATA_DIR, `pg15-audit-${mb}mb-v${GENERATOR_VERSION}.csv`);
}

async function cached(path: string): Promise<GeneratedLog | null> {
  try {
    const truth = JSON.parse(await readFile(`${path}.truth.json`, 'utf8')) as GroundTruth & { bytes: number };
    const { size } = await stat(path);
    return size === truth.bytes ? { path, bytes: size, truth } : null;
  } catch {
    return null;
  }
}

/** Writes a log of at least `mb` MiB (stopping at the first record boundary past it). */
export async function generateCsvlog(mb: number, path: string): Promise<GeneratedLog> {
  const target = mb * MIB;
  const generator = new CsvlogGenerator(SEED, target, START_MS, SPAN_MS);
  const temp = `${path}.partial`;
  const file = createWriteStream(temp, { highWaterMark: 4 * MIB });
  let bytes = 0;
  let pending: string[] = [];
  let pendingChars = 0;
  const flush = async () => {
    const text = pending.join('');
    pending = [];
    pendingChars = 0;
    bytes += Buffer.byteLength(text);
    if (!file.write(text)) await once(file, 'drain');
  };
  while (bytes < target) {
    const before = pending.length;
    generator.step(pending);
    for (let i = before; i < pending.length; i++) pendingChars += pending[i].length;
    if (pendingChars >= FLUSH_CHARS || bytes + pendingChars * 1.02 >= target) await flush();
  }
  if (pending.length) await flush();
  file.end();
  await once(file, 'finish');
  const truth = generator.groundTruth();
  await writeFile(`${path}.truth.json`, `${JSON.stringify({ ...truth, bytes }, null, 2)}\n`);
  await rename(temp, path);
  return { path, bytes, truth };
}

/** The cached log of `mb` MiB, generated first if missing. */
export async function ensureCsvlog(mb: number, log: (line: string) => void = console.error, force = false): Promise<GeneratedLog> {
  const path = csvlogPath(mb);
  const hit = force ? null : await cached(path);
  if (hit) return hit;
  await mkdir(DATA_DIR, { recursive: true });
  log(`generating ${path} (${mb} MiB) ...`);
  const started = performance.now();
  const made = await generateCsvlog(mb, path);
  const seconds = (performance.now() - started) / 1000;
  log(`  ${made.truth.records.toLocaleString('en-US')} records, ${(made.bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s`);
  return made;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--mb');
  const mb = i === -1 ? 200 : Number(process.argv[i + 1]);
  if (!Number.isFinite(mb) || mb <= 0) throw new Error(`--mb ${process.argv[i + 1]}: expected a positive number`);
  const made = await ensureCsvlog(mb, console.error, process.argv.includes('--force'));
  console.log(JSON.stringify({ path: made.path, bytes: made.bytes, ...made.truth }, null, 2));
}
