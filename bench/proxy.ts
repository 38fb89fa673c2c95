/**
 * Proxy overhead: `pgbench -S -c 8 -j 2 -T <secs>` straight to PostgreSQL, through the auditlake proxy,
 * and through pgbouncer (session pooling), in one run, interleaved. Prints TPS, average and p99 latency
 * (from pgbench's per-transaction log), CPU time per transaction of the proxy and of pgbouncer
 * (utime+stime from /proc/<pid>/stat), and the statements the proxy recorded against the transactions.
 *
 *   npx tsx bench/proxy.ts [--seconds 10] [--rounds 1]
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { startPgServer } from '../test/support/postgres.js';

const run = promisify(execFile);
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const seconds = arg('seconds', 10);
const rounds = arg('rounds', 1);
const CLK_TCK = 100;
const isRoot = process.getuid?.() === 0;

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Result {
  tps: number;
  transactions: number;
  avgMs: number;
  p99Ms: number;
}

async function pgbench(port: number, logDir: string, tag: string, env: NodeJS.ProcessEnv): Promise<Result> {
  const prefix = join(logDir, tag);
  const out = await run(
    'pgbench',
    [
      '-S',
      '-c',
      '8',
      '-j',
      '2',
      '-T',
      String(seconds),
      '-l',
      `--log-prefix=${prefix}`,
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'postgres',
      'postgres',
    ],
    { env, cwd: logDir, maxBuffer: 1 << 24 },
  );
  const tps = Number(/tps = ([\d.]+)/.exec(out.stdout)?.[1]);
  const transactions = Number(/actually processed: (\d+)/.exec(out.stdout)?.[1]);
  const latencies: number[] = [];
  for (const f of readdirSync(logDir).filter((n) => n.startsWith(`${tag}.`))) {
    for (const line of readFileSync(join(logDir, f), 'utf8').split('\n')) {
      const us = Number(line.split(' ')[2]);
      if (line && Number.isFinite(us)) latencies.push(us);
    }
    rmSync(join(logDir, f));
  }
  latencies.sort((a, b) => a - b);
  const avg = latencies.reduce((a, b) => a + b, 0) / latencies.length;
  return { tps, transactions, avgMs: avg / 1000, p99Ms: latencies[Math.floor(latencies.length * 0.99)] / 1000 };
}

async function startChild(
  script: string,
  upstream: string,
): Promise<{ child: ChildProcess; port: number; done: Promise<{ events: number; statements: number }> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, script), upstream], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  const first = await lines.next();
  const { port } = JSON.parse(first.value as string);
  const done = lines.next().then((r) => JSON.parse(r.value as string));
  return { child, port, done };
}

async function startPgbouncer(dir: string, pgPort: number): Promise<{ child: ChildProcess; port: number; pid: number }> {
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(join(dir, 'userlist.txt'), '"postgres" "postgres"\n');
  writeFileSync(
    ini,
    `[databases]\npostgres = host=127.0.0.1 port=${pgPort} dbname=postgres\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\nauth_type = trust\nauth_file = ${join(dir, 'userlist.txt')}\npool_mode = session\nmax_client_conn = 100\ndefault_pool_size = 20\nlogfile = ${join(dir, 'pgbouncer.log')}\npidfile = ${join(dir, 'pgbouncer.pid')}\n`,
  );
  if (isRoot) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout);
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout);
    for (const f of [dir, ini, join(dir, 'userlist.txt')]) chownSync(f, uid, gid);
  }
  const [cmd, args] = isRoot ? ['runuser', ['-u', 'postgres', '--', 'pgbouncer', ini]] : ['pgbouncer', [ini]];
  const child = spawn(cmd, args, { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      const pid = Number(readFileSync(join(dir, 'pgbouncer.pid'), 'utf8'));
      if (pid > 0) return { child, port, pid };
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('pgbouncer did not start');
}

const server = await startPgServer({ settings: { 'pgaudit.log': "'none'", log_connections: 'off', log_disconnections: 'off' } });
const work = mkdtempSync(join(tmpdir(), 'auditlake-bench-proxy-'));
const bouncerDir = mkdtempSync(join(tmpdir(), 'auditlake-bench-pgbouncer-'));
const env = { ...process.env, PGPASSWORD: 'postgres' };
const children: ChildProcess[] = [];
try {
  await run('pgbench', ['-i', '-q', '-s', '1', '-h', '127.0.0.1', '-p', String(server.port), '-U', 'postgres', 'postgres'], { env });
  const bouncer = await startPgbouncer(bouncerDir, server.port);
  children.push(bouncer.child);
  const rows: { target: string; r: Result; cpuUs: number | null; recorded?: number }[] = [];
  for (let round = 0; round < rounds; round++) {
    rows.push({ target: 'direct', r: await pgbench(server.port, work, `direct${round}`, env), cpuUs: null });

    const pipe = await startChild('pipe-child.ts', `127.0.0.1:${server.port}`);
    children.push(pipe.child);
    const p0 = cpuSeconds(pipe.child.pid as number);
    const rp = await pgbench(pipe.port, work, `pipe${round}`, env);
    rows.push({ target: 'bare Node pipe', r: rp, cpuUs: ((cpuSeconds(pipe.child.pid as number) - p0) / rp.transactions) * 1e6 });
    pipe.child.kill('SIGTERM');
    await pipe.done;

    const proxy = await startChild('proxy-child.ts', `127.0.0.1:${server.port}`);
    children.push(proxy.child);
    const before = cpuSeconds(proxy.child.pid as number);
    const r = await pgbench(proxy.port, work, `proxy${round}`, env);
    const cpu = cpuSeconds(proxy.child.pid as number) - before;
    proxy.child.kill('SIGTERM');
    const counts = await proxy.done;
    rows.push({ target: 'auditlake proxy', r, cpuUs: (cpu / r.transactions) * 1e6, recorded: counts.statements });

    const b0 = cpuSeconds(bouncer.pid);
    const rb = await pgbench(bouncer.port, work, `pgbouncer${round}`, { ...process.env });
    rows.push({ target: 'pgbouncer (session)', r: rb, cpuUs: ((cpuSeconds(bouncer.pid) - b0) / rb.transactions) * 1e6 });
  }
  console.log(`pgbench -S -c 8 -j 2 -T ${seconds}, ${rounds} round(s)`);
  console.log('target               |      TPS | avg ms | p99 ms | CPU µs/tx | transactions | recorded');
  for (const { target, r, cpuUs, recorded } of rows) {
    console.log(
      `${target.padEnd(20)} | ${r.tps.toFixed(0).padStart(8)} | ${r.avgMs.toFixed(3).padStart(6)} | ${r.p99Ms.toFixed(3).padStart(6)} | ${cpuUs === null ? '        -' : cpuUs.toFixed(2).padStart(9)} | ${String(r.transactions).padStart(12)} | ${recorded ?? '-'}`,
    );
  }
  const avg = (t: string, f: (x: (typeof rows)[number]) => number) => {
    const xs = rows.filter((x) => x.target === t).map(f);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const tpsRatio = avg('auditlake proxy', (x) => x.r.tps) / avg('pgbouncer (session)', (x) => x.r.tps);
  const cpuRatio = avg('auditlake proxy', (x) => x.cpuUs ?? 0) / avg('pgbouncer (session)', (x) => x.cpuUs ?? 0);
  // pgbench does not count the transaction cut off by -T, which the server may still have run: >=.
  const complete = rows.filter((x) => x.recorded !== undefined).every((x) => (x.recorded ?? 0) >= x.r.transactions);
  console.log(`proxy/pgbouncer TPS ${tpsRatio.toFixed(2)}x (target >= 0.9x), CPU per transaction ${cpuRatio.toFixed(2)}x (target <= 2x)`);
  const pipeRatio = avg('auditlake proxy', (x) => x.cpuUs ?? 0) / avg('bare Node pipe', (x) => x.cpuUs ?? 0);
  console.log(`proxy CPU per transaction vs a bare Node pipe: ${pipeRatio.toFixed(2)}x`);
  console.log(`every transaction's statement recorded: ${complete ? 'yes' : 'NO'}`);
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await server.stop();
  rmSync(work, { recursive: true, force: true });
  rmSync(bouncerDir, { recursive: true, force: true });
}
