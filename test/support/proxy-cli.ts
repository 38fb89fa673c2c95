import { type ChildProcess, spawn } from 'node:child_process';

/** A running `auditlake proxy` child process. */
export interface ProxyCli {
  child: ChildProcess;
  /** The port it listens on (it was started on port 0). */
  port: number;
  /** What it has printed on stdout so far: one JSON object per line (lifecycle lines, the final counts). */
  stdout(): string;
  /** SIGTERM, then its exit code once it has written what it recorded and its stdout is read to the end. */
  stop(): Promise<number | null>;
}

/**
 * Starts `auditlake proxy --listen 127.0.0.1:0 --upstream <upstream> <args>` as a user runs it, in a child
 * process, and resolves once it listens. Its stderr is passed through, so a failing test shows why.
 */
export function startProxyCli(upstream: string, args: string[]): Promise<ProxyCli> {
  const child = spawn(process.execPath, ['bin/auditlake.js', 'proxy', '--listen', '127.0.0.1:0', '--upstream', upstream, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const stop = () => {
    // 'close', not 'exit': the last stdout lines (the final counts) may still be in the pipe at exit.
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    child.kill('SIGTERM');
    return exited;
  };
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line) resolve({ child, port: Number(String(JSON.parse(line).address).split(':').pop()), stdout: () => out, stop });
    });
    child.once('exit', (code) => reject(new Error(`auditlake proxy exited with ${code} before listening`)));
  });
}
