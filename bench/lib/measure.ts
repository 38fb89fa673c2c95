import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Runs a command as a child process and measures its wall time, CPU time and peak RSS. Peak RSS comes from
 * GNU time (`/usr/bin/time -f %M`: the child's ru_maxrss, native threads and DuckDB's buffers included);
 * without it, /proc/<pid>/status VmHWM is polled every 20 ms and the last reading kept.
 */

/** What one measured run gave. */
export interface Measured {
  code: number;
  wallS: number;
  /** User + system CPU seconds (GNU time only; NaN otherwise). */
  cpuS: number;
  peakRssMb: number;
  stdout: string;
  stderr: string;
}

const GNU_TIME = '/usr/bin/time';
const MAX_CAPTURE = 1 << 20;

function collect(stream: NodeJS.ReadableStream, into: { text: string }): void {
  stream.setEncoding('utf8');
  stream.on('data', (c: string) => {
    if (into.text.length < MAX_CAPTURE) into.text += c;
  });
}

async function vmHwmKb(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Runs `command args` in `cwd` and measures it. `scratch` is a folder for GNU time's report. */
export async function runMeasured(
  command: string,
  args: string[],
  options: { cwd: string; scratch: string; env?: NodeJS.ProcessEnv },
): Promise<Measured> {
  const gnu = existsSync(GNU_TIME);
  const report = join(options.scratch, `time-${process.pid}-${Date.now()}.txt`);
  const argv = gnu ? ['-f', '%M %U %S', '-o', report, command, ...args] : args;
  const started = performance.now();
  const child = spawn(gnu ? GNU_TIME : command, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { text: '' };
  const err = { text: '' };
  collect(child.stdout, out);
  collect(child.stderr, err);
  let polledKb = 0;
  const poll = gnu
    ? null
    : setInterval(async () => {
        if (child.pid) polledKb = Math.max(polledKb, await vmHwmKb(child.pid));
      }, 20);
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  const wallS = (performance.now() - started) / 1000;
  if (poll) clearInterval(poll);
  let peakKb = polledKb;
  let cpuS = Number.NaN;
  if (gnu) {
    const text = await readFile(report, 'utf8').catch(() => '');
    await rm(report, { force: true });
    // GNU time prefixes "Command exited with non-zero status N" when the child fails.
    const last = text.trim().split('\n').pop() ?? '';
    const [kb, user, sys] = last.split(' ').map(Number);
    peakKb = kb;
    cpuS = user + sys;
  }
  return { code, wallS, cpuS, peakRssMb: peakKb / 1024, stdout: out.text, stderr: err.text };
}

/** Median of the values (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
