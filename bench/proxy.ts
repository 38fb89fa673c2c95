/**
 * Proxy overhead: `pgbench -S` straight to PostgreSQL, through a bare Node pipe (the floor of any Node
 * proxy), through `auditlake proxy --out <lake>` (the real CLI, writing Parquet), and through pgbouncer
 * (session pooling), in one run. For each protocol mode (`-M simple`, `-M extended`) and client count
 * (`-c`), the targets run one after another, their order rotated every round so load changes on a shared
 * machine hit all of them alike.
 *
 * Per run: TPS, p50/p99 latency per statement (pgbench -S runs one statement per transaction; from its
 * per-transaction log), CPU time per transaction of the proxy, pipe and pgbouncer process (utime+stime
 * from /proc/<pid>/stat), and for the proxy the statements found in the lake against pgbench's
 * transactions. A Node child's CPU counts from pgbench's start until the child has exited: the proxy's
 * shutdown writes its last lake unit (default flush settings, as in production), so all of its
 * recording work is counted, and nothing of its start-up.
 *
 *   npx tsx bench/proxy.ts [--mode simple,extended] [--clients 8,64] [--seconds 10] [--rounds 3]
 *                          [--targets direct,pipe,relay,proxy,pgbouncer] [--proxy-node-args "--cpu-prof ..."]
 *                          [--base <checkout>] [--rate <tps>] [--proxy-args "--flush-events 200000"] [--warmup <s>]
 *
 * Targets: direct, pipe, relay (the proxy's own I/O: reused read buffers and handle writes, nothing parsed;
 * `relay-child.ts`), memory (the proxy recording in memory only), proxy (the CLI with a lake), cluster
 * (two proxy processes sharing the port), pgbouncer, and base: the proxy without a lake from another
 * checkout (`--base`, e.g. `git archive <rev> | tar -x -C <dir>` with node_modules linked), to compare a
 * change against the code before it in the same run. `--rate` holds every target to the same throughput
 * (pgbench -R, per run), so that CPU per transaction compares the same work at the same pace: on a loaded
 * machine a slower target otherwise reads more per wake-up and looks cheaper per transaction. `--proxy-args`
 * passes CLI options to the `proxy` target (e.g. the lake's unit size). `--warmup` runs the same pgbench for
 * that many seconds before each measured run, outside its figures (a Node target's first seconds include
 * V8 compiling the hot path; a proxy in service runs for days); what the warm-up sent is still recorded and
 * counted in the completeness check.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { startPgServer } from '../test/support/postgres.js';

const run = promisify(execFile);
const argText = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const seconds = Number(argText('seconds', '10'));
const rounds = Number(argText('rounds', '3'));
const modes = argText('mode', 'simple,extended').split(',') as ('simple' | 'extended')[];
const clientCounts = argText('clients', '8,64').split(',').map(Number);
const targets = argText('targets', 'direct,pipe,relay,proxy,pgbouncer').split(',') as Target[];
const workers = Number(argText('workers', '2'));
const proxyNodeArgs = argText('proxy-node-args', '').split(' ').filter(Boolean);
const proxyArgs = argText('proxy-args', '').split(' ').filter(Boolean);
const baseRoot = argText('base', '');
const rate = argText('rate', '');
const warmupSeconds = Number(argText('warmup', '0'));
const CLK_TCK = 100;
const isRoot = process.getuid?.() === 0;
const root = join(import.meta.dirname, '..');

type Target = 'direct' | 'pipe' | 'relay' | 'memory' | 'base' | 'proxy' | 'cluster' | 'pgbouncer';
const LABEL: Record<Target, string> = {
  direct: 'direct',
  pipe: 'bare Node pipe',
  relay: 'proxy I/O, no parse',
  memory: 'proxy, no lake',
  base: 'base, no lake',
  proxy: 'auditlake proxy',
  cluster: `proxy, ${Number(argText('workers', '2'))} processes`,
  pgbouncer: 'pgbouncer (session)',
};

/** utime + stime of this process's exited, waited-for children, in seconds. */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
}

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Result {
  tps: number;
  transactions: number;
  p50Ms: number;
  p99Ms: number;
}

async function pgbench(
  port: number,
  mode: string,
  clients: number,
  logDir: string,
  tag: string,
  env: NodeJS.ProcessEnv,
  duration = seconds,
): Promise<Result> {
  const prefix = join(logDir, tag);
  const args = ['-S', '-M', mode, '-c', String(clients), '-j', '2', '-T', String(duration), '-l', `--log-prefix=${prefix}`];
  if (rate) args.push('-R', rate);
  const out = await run('pgbench', [...args, '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'postgres'], {
    env,
    cwd: logDir,
    maxBuffer: 1 << 24,
  });
  const tps = Number(/tps = ([\d.]+)/.exec(out.stdout)?.[1]);
  // On a loaded machine -c 64 may spend all of -T connecting: the run then counts as missing.
  if (!(tps > 0)) console.error(`pgbench ${tag}: no transactions\n${out.stdout}${out.stderr}`);
  const transactions = Number(/actually processed: (\d+)/.exec(out.stdout)?.[1]);
  const latencies: number[] = [];
  for (const f of readdirSync(logDir).filter((n) => n.startsWith(`${tag}.`))) {
    for (const line of readFileSync(join(logDir, f), 'utf8').split('\n')) {
      const us = Number(line.split(' ')[2]);
      if (line && Number.isFinite(us)) latencies.push(us);
    }
    rmSync(join(logDir, f));
  }
  const sorted = Float64Array.from(latencies).sort();
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] / 1000;
  return { tps, transactions, p50Ms: q(0.5), p99Ms: q(0.99) };
}

/** Starts a child and waits for the first stdout line matching `ready`, from which it takes the port. */
async function startChild(
  cmd: string,
  args: string[],
  ready: (line: string) => number | null,
): Promise<{ child: ChildProcess; port: number; lines: string[] }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: root });
  const lines: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => lines.push(line));
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      let port: number | null = null;
      for (const l of lines) port ??= ready(l);
      if (port !== null) {
        clearInterval(poll);
        resolve({ child, port, lines });
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(poll);
      reject(new Error(`${cmd} ${args.join(' ')} exited ${code} before it listened`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

async function startPgbouncer(dir: string, pgPort: number): Promise<{ child: ChildProcess; port: number; pid: number }> {
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(join(dir, 'userlist.txt'), '"postgres" "postgres"\n');
  writeFileSync(
    ini,
    `[databases]\npostgres = host=127.0.0.1 port=${pgPort} dbname=postgres\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\nauth_type = trust\nauth_file = ${join(dir, 'userlist.txt')}\npool_mode = session\nmax_client_conn = 200\ndefault_pool_size = 100\nserver_lifetime = 1\nserver_idle_timeout = 1\nlogfile = ${join(dir, 'pgbouncer.log')}\npidfile = ${join(dir, 'pgbouncer.pid')}\n`,
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
    await sleep(50);
  }
  throw new Error('pgbouncer did not start');
}

/** Statements pgbench ran that the lake holds: the SELECTs on pgbench_accounts. */
async function lakeStatements(lake: string): Promise<number> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const r = await c.runAndReadAll(
      `SELECT count(*) FROM read_parquet('${lake}/events/**/*.parquet') WHERE command = 'SELECT' AND statement_text LIKE '%pgbench_accounts%'`,
    );
    return Number(r.getRows()[0][0]);
  } finally {
    c.closeSync();
  }
}

interface Row {
  mode: string;
  clients: number;
  target: Target;
  round: number;
  r: Result;
  cpuUs: number | null;
  recorded?: number;
  /** Transactions of the warm-up run before the measured one (recorded too, not measured). */
  warmed?: number;
}

const server = await startPgServer({
  settings: { 'pgaudit.log': "'none'", log_connections: 'off', log_disconnections: 'off', max_connections: '200' },
});
const work = mkdtempSync(join(tmpdir(), 'auditlake-bench-proxy-'));
const bouncerDir = mkdtempSync(join(tmpdir(), 'auditlake-bench-pgbouncer-'));
const env = { ...process.env, PGPASSWORD: 'postgres' };
const children: ChildProcess[] = [];
const upstream = `127.0.0.1:${server.port}`;
const rows: Row[] = [];
const loads: string[] = [];
try {
  await run('pgbench', ['-i', '-q', '-s', '1', '-h', '127.0.0.1', '-p', String(server.port), '-U', 'postgres', 'postgres'], { env });
  const bouncer = await startPgbouncer(bouncerDir, server.port);
  children.push(bouncer.child);

  const measure = async (target: Target, mode: string, clients: number, round: number): Promise<Row> => {
    const tag = `${target}-${mode}-${clients}-${round}`;
    let warmed = 0;
    const row = () => ({ mode, clients, target, round, warmed });
    // `--warmup`: the same load for a while before the measured run, outside its CPU and TPS, so the figures
    // are a long-running process's steady state (V8's compiler done) rather than its first seconds.
    const warmUp = async (port: number) => {
      if (warmupSeconds > 0) warmed = (await pgbench(port, mode, clients, work, `${tag}-warmup`, env, warmupSeconds)).transactions;
    };
    switch (target) {
      case 'direct':
        await warmUp(server.port);
        return { ...row(), r: await pgbench(server.port, mode, clients, work, tag, env), cpuUs: null };
      case 'pgbouncer': {
        await warmUp(bouncer.port);
        const c0 = cpuSeconds(bouncer.pid);
        const r = await pgbench(bouncer.port, mode, clients, work, tag, env);
        return { ...row(), r, cpuUs: ((cpuSeconds(bouncer.pid) - c0) / r.transactions) * 1e6 };
      }
      case 'pipe':
      case 'relay':
      case 'memory':
      case 'base': {
        if (target === 'base' && !baseRoot) throw new Error('target base needs --base <checkout>');
        const childScript = { pipe: 'pipe-child.ts', relay: 'relay-child.ts', memory: 'proxy-child.ts', base: 'proxy-child.ts' }[target];
        const script = join(target === 'base' ? baseRoot : root, 'bench', childScript);
        const nodeArgs = target === 'pipe' || target === 'relay' ? [] : proxyNodeArgs;
        const { child, port, lines } = await startChild(
          process.execPath,
          [...nodeArgs, '--import', 'tsx', script, upstream],
          (l) => JSON.parse(l).port ?? null,
        );
        children.push(child);
        await warmUp(port);
        const c0 = cpuSeconds(child.pid as number);
        const r = await pgbench(port, mode, clients, work, tag, env);
        const reaped = childrenCpuSeconds(); // pgbench's own CPU is in it now
        child.kill('SIGTERM');
        await exited(child);
        const cpu = childrenCpuSeconds() - reaped - c0;
        await sleep(50); // the last stdout line
        const recorded = target !== 'pipe' && target !== 'relay' ? Number(JSON.parse(lines[lines.length - 1]).statements) : undefined;
        return { ...row(), r, cpuUs: (cpu / r.transactions) * 1e6, recorded };
      }
      case 'cluster': {
        const lake = join(work, `lake-${tag}`);
        const script = join(root, 'bench', 'proxy-cluster-child.ts');
        const args = ['--import', 'tsx', script, String(workers), String(await freePort()), upstream, lake, `bench-${tag}`];
        const { child, port, lines } = await startChild(process.execPath, args, (l) => JSON.parse(l).port ?? null);
        children.push(child);
        const pids: number[] = [child.pid as number, ...JSON.parse(lines[0]).pids];
        await warmUp(port);
        const c0 = pids.reduce((a, pid) => a + cpuSeconds(pid), 0);
        const r = await pgbench(port, mode, clients, work, tag, env);
        const reaped = childrenCpuSeconds();
        child.kill('SIGTERM');
        await exited(child);
        const cpu = childrenCpuSeconds() - reaped - c0;
        const recorded = await lakeStatements(lake);
        rmSync(lake, { recursive: true, force: true });
        return { ...row(), r, cpuUs: (cpu / r.transactions) * 1e6, recorded };
      }
      case 'proxy': {
        const lake = join(work, `lake-${tag}`);
        const args = [...proxyNodeArgs, join(root, 'bin', 'auditlake.js'), 'proxy', '--listen', '127.0.0.1:0', '--upstream', upstream];
        args.push('--out', lake, '--instance-id', `bench-${tag}`, ...proxyArgs);
        const { child, port } = await startChild(process.execPath, args, (l) => {
          const m = /"address":"[^"]*:(\d+)"/.exec(l);
          return m ? Number(m[1]) : null;
        });
        children.push(child);
        await warmUp(port);
        const c0 = cpuSeconds(child.pid as number);
        const r = await pgbench(port, mode, clients, work, tag, env);
        const reaped = childrenCpuSeconds();
        child.kill('SIGTERM');
        await exited(child);
        const cpu = childrenCpuSeconds() - reaped - c0;
        const recorded = await lakeStatements(lake);
        rmSync(lake, { recursive: true, force: true });
        return { ...row(), r, cpuUs: (cpu / r.transactions) * 1e6, recorded };
      }
    }
  };

  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      for (const clients of clientCounts) {
        // Rotate the order each round: whatever the shared machine does meanwhile hits every target alike.
        const order = targets.map((_, i) => targets[(i + round) % targets.length]);
        for (const target of order) {
          const row = await measure(target, mode, clients, round);
          rows.push(row);
          console.error(
            `  round ${round + 1} ${mode} -c ${clients} ${LABEL[target]}: ${row.r.tps.toFixed(0)} TPS, p50 ${row.r.p50Ms.toFixed(3)} ms, p99 ${row.r.p99Ms.toFixed(3)} ms${row.cpuUs === null ? '' : `, ${row.cpuUs.toFixed(1)} µs CPU/tx`}${row.recorded === undefined ? '' : `, ${row.recorded}/${row.r.transactions} recorded`}`,
          );
        }
      }
    }
    loads.push(readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '));
  }

  const median = (all: number[]) => {
    const s = all.filter(Number.isFinite).sort((a, b) => a - b);
    if (s.length === 0) return Number.NaN;
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  console.log(
    `pgbench -S -j 2 -T ${seconds}${rate ? ` -R ${rate}` : ''}${warmupSeconds ? ` after ${warmupSeconds} s of warm-up` : ''}, ${rounds} round(s), medians over rounds; load average after each round: ${loads.join(' | ')}`,
  );
  let allComplete = true;
  for (const mode of modes) {
    for (const clients of clientCounts) {
      const of = (t: Target) => rows.filter((x) => x.mode === mode && x.clients === clients && x.target === t);
      const med = (t: Target, f: (x: Row) => number) => median(of(t).map(f));
      console.log(`\n-M ${mode} -c ${clients}`);
      console.log('target               |      TPS | p50 ms | p99 ms | CPU µs/tx | transactions | recorded');
      for (const t of targets) {
        const cpu = of(t)[0]?.cpuUs === null ? Number.NaN : med(t, (x) => x.cpuUs ?? 0);
        const recorded =
          t === 'proxy' || t === 'memory' || t === 'base' || t === 'cluster'
            ? of(t)
                .map((x) => `${x.recorded}`)
                .join('/')
            : '-';
        console.log(
          `${LABEL[t].padEnd(20)} | ${fmt(
            med(t, (x) => x.r.tps),
            0,
          ).padStart(8)} | ${fmt(
            med(t, (x) => x.r.p50Ms),
            3,
          ).padStart(6)} | ${fmt(
            med(t, (x) => x.r.p99Ms),
            3,
          ).padStart(6)} | ${fmt(cpu).padStart(9)} | ${of(t)
            .map((x) => x.r.transactions)
            .join('/')
            .padStart(12)} | ${recorded}`,
        );
      }
      // Ratios per round (same run, adjacent in time), then their median: of the proxy with its lake, or
      // else of the proxy without one.
      const subject: Target | undefined = (['proxy', 'memory'] as Target[]).find((t) => targets.includes(t));
      if (subject === undefined) continue;
      const perRound = (f: (p: Row, o: Row) => number, other: Target, of1: Target = subject) =>
        median(
          of(of1)
            .map((p) => {
              const o = of(other).find((x) => x.round === p.round);
              return o ? f(p, o) : Number.NaN;
            })
            .filter(Number.isFinite),
        );
      const lines: string[] = [];
      if (targets.includes('pgbouncer')) {
        const tps = perRound((p, o) => p.r.tps / o.r.tps, 'pgbouncer');
        const cpu = perRound((p, o) => (p.cpuUs ?? 0) / (o.cpuUs ?? 1), 'pgbouncer');
        lines.push(`${LABEL[subject]}/pgbouncer: TPS ${fmt(tps)}x (target >= 0.9x), CPU per transaction ${fmt(cpu)}x (target <= 1.5x)`);
        const a50 = perRound((p, o) => (p.r.p50Ms - o.r.p50Ms) * 1000, 'pgbouncer');
        const a99 = perRound((p, o) => (p.r.p99Ms - o.r.p99Ms) * 1000, 'pgbouncer');
        lines.push(`added latency per statement vs pgbouncer: p50 ${fmt(a50, 0)} µs, p99 ${fmt(a99, 0)} µs`);
      }
      if (targets.includes('direct')) {
        const a50 = perRound((p, o) => (p.r.p50Ms - o.r.p50Ms) * 1000, 'direct');
        const a99 = perRound((p, o) => (p.r.p99Ms - o.r.p99Ms) * 1000, 'direct');
        lines.push(`added latency per statement vs direct:     p50 ${fmt(a50, 0)} µs, p99 ${fmt(a99, 0)} µs`);
      }
      if (targets.includes('pipe')) {
        const cpu = perRound((p, o) => (p.cpuUs ?? 0) / (o.cpuUs ?? 1), 'pipe');
        lines.push(`${LABEL[subject]} CPU per transaction vs a bare Node pipe: ${fmt(cpu)}x`);
      }
      if (targets.includes('relay')) {
        const cpu = perRound((p, o) => (p.cpuUs ?? 0) / (o.cpuUs ?? 1), 'relay');
        lines.push(`${LABEL[subject]} CPU per transaction vs the proxy's I/O alone: ${fmt(cpu)}x`);
      }
      for (const t of ['relay', 'memory', 'base'] as Target[]) {
        if (t === subject || !targets.includes(t)) continue;
        for (const other of ['pgbouncer', 'pipe'] as Target[]) {
          if (!targets.includes(other)) continue;
          const tps = perRound((p, o) => p.r.tps / o.r.tps, other, t);
          const cpu = perRound((p, o) => (p.cpuUs ?? 0) / (o.cpuUs ?? 1), other, t);
          lines.push(`${LABEL[t]}/${LABEL[other]}: TPS ${fmt(tps)}x, CPU per transaction ${fmt(cpu)}x`);
        }
      }
      if (targets.includes('base')) {
        const tps = perRound((p, o) => p.r.tps / o.r.tps, 'base', 'memory');
        const cpu = perRound((p, o) => (p.cpuUs ?? 0) / (o.cpuUs ?? 1), 'base', 'memory');
        lines.push(`proxy, no lake / base, no lake: TPS ${fmt(tps)}x, CPU per transaction ${fmt(cpu)}x`);
      }
      // pgbench does not count the transaction cut off by -T, which the server may still have run: >=.
      const complete = [...of('proxy'), ...of('memory'), ...of('base'), ...of('cluster')].every(
        (x) => (x.recorded ?? 0) >= x.r.transactions + (x.warmed ?? 0),
      );
      allComplete &&= complete;
      lines.push(`every transaction's statement in the lake: ${complete ? 'yes' : 'NO'}`);
      for (const l of lines) console.log(l);
    }
  }
  if (!allComplete) process.exitCode = 1;
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await server.stop();
  rmSync(work, { recursive: true, force: true });
  rmSync(bouncerDir, { recursive: true, force: true });
}
