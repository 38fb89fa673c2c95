/**
 * `auditlake verify` on a large lake: `npx tsx bench/verify.ts [--files 100000] [--sizes 10000,100000,300000] [--per-unit 100] [--bytes 4096]`.
 *
 * Builds a local lake of `--files` files of `--bytes` random bytes, committed in units of `--per-unit`
 * files, each unit's digest signed with an Ed25519 key (the chain's format, written by the real
 * appender). Then measures, in the same run:
 *  - verify (`verifyLake`, what `auditlake verify --public-key <key>` runs) in a child process that
 *    times the walk itself (module loading excluded) and reports its peak RSS, at each of `--sizes`
 *    (default: a tenth of `--files`, then `--files`), to show how memory grows with files;
 *  - the peer: `sha256sum` over the same files (`find | xargs -0 sha256sum`), the floor of hashing them.
 * Prints files/s of both, their ratio, and peak RSS per size. With `--live-heap`, the child also forces a
 * garbage collection each second and reports the largest heap left after one: the memory verify holds,
 * apart from what V8 keeps allocated (which lowers its peak RSS a little, so compare RSS across runs alike).
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsStorage } from '../src/lake/fs-storage.js';
import { appendDigest } from '../src/lake/integrity/chain.js';
import type { WrittenObject } from '../src/lake/integrity/digest-record.js';
import { bytesDigest } from '../src/lake/integrity/file-digest.js';
import { ed25519FileSigner, trustedKeyFile } from '../src/lake/integrity/signers.js';
import type { VerifySummary } from '../src/lake/integrity/verify.js';
import { verifyLake } from '../src/lake/integrity/verify.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const FILES = arg('files', 100_000);
const PER_UNIT = arg('per-unit', 100);
const BYTES = arg('bytes', 4096);
const LIVE_HEAP = process.argv.includes('--live-heap');
const at = process.argv.indexOf('--sizes');
const SIZES = at === -1 ? [Math.round(FILES / 10), FILES] : process.argv[at + 1].split(',').map(Number);

async function buildLake(dir: string, files: number, key: string): Promise<void> {
  const storage = new FsStorage(dir);
  const signer = await ed25519FileSigner(key);
  for (let u = 0; u * PER_UNIT < files; u++) {
    const written: WrittenObject[] = [];
    const inputKey = u.toString(16).padStart(20, '0');
    const date = `2026-${String((u % 12) + 1).padStart(2, '0')}-${String((u % 28) + 1).padStart(2, '0')}`;
    const folder = join(dir, `events/source=pgaudit/event_date=${date}`);
    mkdirSync(folder, { recursive: true });
    for (let n = 0; n < PER_UNIT && u * PER_UNIT + n < files; n++) {
      const body = randomBytes(BYTES);
      const key = `events/source=pgaudit/event_date=${date}/part-${inputKey}-${n}.parquet`;
      writeFileSync(join(dir, key), body);
      written.push({ key, ...bytesDigest(body), rows: 1 });
    }
    await appendDigest(
      storage,
      { unit_id: inputKey, kind: 'ingest', committed_at: new Date().toISOString(), written, removed: [], rows: written.length },
      signer,
    );
  }
}

function timed(command: string, args: string[]): { seconds: number; maxRssMb: number; stdout: string } {
  const started = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', '%M', command, ...args], { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 });
  const seconds = (performance.now() - started) / 1000;
  const rssKb = Number(run.stderr.trim().split('\n').at(-1));
  return { seconds, maxRssMb: rssKb / 1024, stdout: run.stdout };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'auditlake-bench-verify-'));
  try {
    const key = join(work, 'key.pem');
    writeFileSync(key, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const rows: string[] = [];
    for (const files of SIZES) {
      const dir = join(work, `lake-${files}`);
      const t = performance.now();
      await buildLake(dir, files, key);
      const build = (performance.now() - t) / 1000;
      // Warm the page cache for both tools alike.
      execFileSync('sh', ['-c', `cat $(find ${dir}/events -type f | head -1000) > /dev/null`]);
      const flags = LIVE_HEAP
        ? ['--expose-gc', '--import', 'tsx', 'bench/verify.ts', '--live-heap']
        : ['--import', 'tsx', 'bench/verify.ts'];
      const measured = spawnSync(process.execPath, [...flags, '--child', dir, key], { encoding: 'utf8' });
      if (measured.status !== 0) throw new Error(measured.stderr);
      const { summary, ...verify } = JSON.parse(measured.stdout) as {
        summary: VerifySummary;
        seconds: number;
        maxRssMb: number;
        liveHeapMb?: number;
      };
      if (!summary.clean || summary.files.valid !== files)
        throw new Error(`verify did not find ${files} valid files: ${JSON.stringify(summary)}`);
      const peer = timed('sh', ['-c', `find ${dir}/events -type f -print0 | xargs -0 sha256sum > /dev/null`]);
      rows.push(
        `${files.toLocaleString('en-US').padStart(8)} files (${(files / PER_UNIT).toLocaleString('en-US')} signed digests, built in ${build.toFixed(0)} s): ` +
          `verify ${verify.seconds.toFixed(1)} s (${Math.round(files / verify.seconds).toLocaleString('en-US')} files/s, peak RSS ${verify.maxRssMb.toFixed(0)} MB${verify.liveHeapMb ? `, live heap at most ${verify.liveHeapMb.toFixed(0)} MB` : ''}), ` +
          `sha256sum ${peer.seconds.toFixed(1)} s (${Math.round(files / peer.seconds).toLocaleString('en-US')} files/s), ratio ${(verify.seconds / peer.seconds).toFixed(2)}x`,
      );
      console.log(rows.at(-1));
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The measured side, in its own process: verify the lake, print time, peak RSS and the summary. */
async function child(dir: string, key: string): Promise<void> {
  const trusted = [await trustedKeyFile(key)];
  const gc = LIVE_HEAP ? (globalThis as { gc?: () => void }).gc : undefined;
  let liveHeapMb = 0;
  const sample = () => {
    gc?.();
    liveHeapMb = Math.max(liveHeapMb, process.memoryUsage().heapUsed / 1024 / 1024);
  };
  const sampler = gc ? setInterval(sample, 1000) : undefined;
  const started = performance.now();
  const summary = await verifyLake(new FsStorage(dir), { trusted, onEvent() {} });
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  process.stdout.write(
    JSON.stringify({ seconds, maxRssMb: process.resourceUsage().maxRSS / 1024, ...(gc ? { liveHeapMb } : {}), summary }),
  );
}

const childAt = process.argv.indexOf('--child');
if (childAt === -1) await main();
else await child(process.argv[childAt + 1], process.argv[childAt + 2]);
