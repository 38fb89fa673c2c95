/**
 * A throwaway PostgreSQL server with pgAudit for tests and fixture scripts: fresh data directory in a temp
 * dir, loopback-only TCP with SCRAM passwords (so log lines carry a host and port), and the RDS/Aurora
 * `log_line_prefix`, writing csvlog, jsonlog and stderr files side by side.
 *
 * initdb and postgres refuse to run as root, so when we are root every server binary runs as the
 * `postgres` OS user through `runuser`, and the temp dir is handed to that user.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Password of the `postgres` superuser in every harness server. */
export const SUPERUSER_PASSWORD = 'postgres';

/** Options for {@link startPgServer}. */
export interface PgServerOptions {
  /** TCP port on 127.0.0.1; 0 or undefined picks a free one. */
  port?: number;
  /** Extra postgresql.conf settings, appended last so they override the harness defaults. Values are raw conf text. */
  settings?: Record<string, string>;
  /** `log_destination`; default `csvlog,jsonlog,stderr`. */
  logDestination?: string;
}

/** Options for {@link PgServer.psql}. */
export interface PsqlOptions {
  /** Role to connect as; default `postgres`. */
  user?: string;
  /** Database; default `postgres`. */
  db?: string;
  /** Password; with one (the superuser's is known) psql uses TCP, without one the trusted Unix socket. */
  password?: string;
  /**
   * `script` (default) feeds the SQL on stdin (`-f -`): psql splits it into statements and COPY FROM STDIN
   * reads its data inline. `command` sends it with `-c` as ONE simple-protocol query string.
   */
  mode?: 'script' | 'command';
  /** `application_name` of the session; default `psql`. */
  applicationName?: string;
}

/** Result of one psql run; a failing statement does not stop the script (ON_ERROR_STOP is off). */
export interface PsqlResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Absolute paths of the log files the server has created so far. */
export interface PgLogFiles {
  csvlog?: string;
  jsonlog?: string;
  stderr?: string;
}

/** A running harness server. */
export interface PgServer {
  host: '127.0.0.1';
  port: number;
  /** Temp dir holding everything below; removed by {@link PgServer.stop} unless `keepFiles`. */
  baseDir: string;
  dataDir: string;
  logDir: string;
  superuser: string;
  superuserPassword: string;
  /** `postgresql://` URL over TCP; the superuser's password is filled in when `user` is the superuser. */
  connectionString(user?: string, db?: string, password?: string): string;
  /** Runs psql (`-X -A -t -q`) against this server. */
  psql(sql: string, opts?: PsqlOptions): Promise<PsqlResult>;
  logFiles(): Promise<PgLogFiles>;
  /**
   * Waits until the log files stop growing: the backends hand lines to the logging collector through a
   * pipe, so a line can reach the file a moment after the statement returned.
   */
  flushLogs(opts?: { quietMs?: number; timeoutMs?: number }): Promise<void>;
  /** `pg_ctl stop -m fast`, then removes {@link PgServer.baseDir} unless `keepFiles` (copy the logs first). */
  stop(opts?: { keepFiles?: boolean }): Promise<void>;
}

const isRoot = process.getuid?.() === 0;

/** Argv prefix that runs a server binary as a user PostgreSQL accepts. */
function asServerUser(bin: string, args: string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

/**
 * Directory with initdb/pg_ctl/postgres: `pg_config --bindir` when it holds initdb (on Debian it often
 * does not: /usr/bin only has wrappers), else the newest /usr/lib/postgresql/<major>/bin.
 */
export function findPgBinDir(): string {
  const fromConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const dir = fromConfig.status === 0 ? fromConfig.stdout.trim() : '';
  if (dir && existsSync(join(dir, 'initdb'))) return dir;
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0)
    throw new Error('PostgreSQL server binaries not found (no initdb on pg_config --bindir or under /usr/lib/postgresql)');
  return join(root, majors[0], 'bin');
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<PsqlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
    // A command that exits without reading its input (pg_ctl, or psql failing to connect) closes the
    // pipe first; the EPIPE that follows says nothing its exit code and stderr do not.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

async function runOrThrow(cmd: string, args: string[], cwd: string): Promise<PsqlResult> {
  const res = await run(cmd, args, { cwd });
  if (res.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${res.code}):\n${res.stderr}${res.stdout}`);
  return res;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Quotes a value for postgresql.conf. */
const confString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

function configLines(o: {
  port: number;
  baseDir: string;
  logDir: string;
  logDestination: string;
  settings: Record<string, string>;
}): string {
  const conf: Record<string, string> = {
    listen_addresses: `'127.0.0.1'`,
    port: String(o.port),
    unix_socket_directories: confString(o.baseDir),
    // Throwaway data: durability only costs time.
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    lc_messages: `'C'`,
    shared_preload_libraries: `'pgaudit'`,
    logging_collector: 'on',
    log_destination: confString(o.logDestination),
    log_directory: confString(o.logDir),
    // Fixed name: the collector derives postgresql.csv / postgresql.json from it.
    log_filename: `'postgresql.log'`,
    log_rotation_age: '0',
    log_rotation_size: '0',
    log_line_prefix: `'%t:%r:%u@%d:[%p]:'`, // what RDS/Aurora use and CloudWatch receives
    log_connections: 'on',
    log_disconnections: 'on',
    log_timezone: `'UTC'`,
    timezone: `'UTC'`,
    password_encryption: `'scram-sha-256'`,
    'pgaudit.log': `'all'`,
    'pgaudit.log_parameter': 'on',
    'pgaudit.log_relation': 'on',
    'pgaudit.log_rows': 'on',
    'pgaudit.log_catalog': 'off',
    'pgaudit.role': `'auditor'`,
    ...o.settings,
  };
  return `\n# auditlake test harness\n${Object.entries(conf)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')}\n`;
}

const HBA = '# auditlake test harness\nlocal all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n';

/** Servers still running, stopped synchronously if this process exits without calling stop(). */
const live = new Map<string, { pgCtl: string; dataDir: string; baseDir: string; watchdog?: ChildProcess }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of live.values()) {
      const [cmd, args] = asServerUser(s.pgCtl, ['stop', '-D', s.dataDir, '-m', 'immediate', '-w']);
      spawnSync(cmd, args, { stdio: 'ignore', cwd: s.baseDir });
      rmSync(s.baseDir, { recursive: true, force: true });
    }
  });
}

/**
 * An 'exit' hook does not run on SIGKILL or an unhandled SIGTERM (how test runners end stuck workers),
 * so a detached shell also watches our pid and stops the server once we are gone.
 */
function startWatchdog(pgCtl: string, dataDir: string, baseDir: string): ChildProcess {
  const [cmd, args] = asServerUser(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w']);
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${[cmd, ...args].map(q).join(' ')} >/dev/null 2>&1; rm -rf ${q(baseDir)}`;
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore', cwd: '/' });
  child.unref();
  return child;
}

async function initCluster(binDir: string, baseDir: string, dataDir: string): Promise<void> {
  const pwfile = join(baseDir, 'pwfile');
  await writeFile(pwfile, `${SUPERUSER_PASSWORD}\n`, { mode: 0o600 });
  if (isRoot) {
    const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gw = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    const uid = Number(pw.stdout.trim());
    const gid = Number(gw.stdout.trim());
    if (pw.status !== 0 || Number.isNaN(uid)) throw new Error('running as root but there is no `postgres` OS user to run the server as');
    await chown(baseDir, uid, gid);
    await chown(pwfile, uid, gid);
  }
  const [cmd, args] = asServerUser(join(binDir, 'initdb'), [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--pwfile',
    pwfile,
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '--encoding=UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  await runOrThrow(cmd, args, baseDir);
  await rm(pwfile);
}

/**
 * Starts a fresh PostgreSQL server with pgAudit (`pgaudit.log = all`, parameters, relations and rows on,
 * catalog off, object-audit role `auditor`), waits until it accepts connections, creates the pgaudit
 * extension in `postgres` and the NOLOGIN role `auditor`.
 */
export async function startPgServer(opts: PgServerOptions = {}): Promise<PgServer> {
  const binDir = findPgBinDir();
  const pgCtl = join(binDir, 'pg_ctl');
  const psqlBin = existsSync(join(binDir, 'psql')) ? join(binDir, 'psql') : 'psql';
  const baseDir = await mkdtemp(join(tmpdir(), 'auditlake-pg-'));
  const dataDir = join(baseDir, 'data');
  const logDir = join(baseDir, 'log');
  try {
    await initCluster(binDir, baseDir, dataDir);
    const [mk, mkArgs] = asServerUser('mkdir', ['-p', logDir]);
    await runOrThrow(mk, mkArgs, baseDir);
    await writeFile(join(dataDir, 'pg_hba.conf'), HBA);
    const base = await readFile(join(dataDir, 'postgresql.conf'), 'utf8');
    installExitHook();

    // A port picked as free can be taken before the postmaster binds it: retry with a new one.
    let port = 0;
    for (let attempt = 0; ; attempt++) {
      port = opts.port || (await freePort());
      const conf = configLines({
        port,
        baseDir,
        logDir,
        logDestination: opts.logDestination ?? 'csvlog,jsonlog,stderr',
        settings: opts.settings ?? {},
      });
      await writeFile(join(dataDir, 'postgresql.conf'), base + conf);
      const [cmd, args] = asServerUser(pgCtl, ['start', '-D', dataDir, '-w', '-t', '60', '-l', join(baseDir, 'startup.log')]);
      const res = await run(cmd, args, { cwd: baseDir });
      if (res.code === 0) break;
      if (opts.port || attempt >= 2) {
        const startupLog = await readFile(join(baseDir, 'startup.log'), 'utf8').catch(() => '');
        throw new Error(`pg_ctl start failed (${res.code}): ${res.stderr}${res.stdout}\n${startupLog}`);
      }
    }
    live.set(baseDir, { pgCtl, dataDir, baseDir, watchdog: startWatchdog(pgCtl, dataDir, baseDir) });
    const server = makeServer({ port, baseDir, dataDir, logDir, pgCtl, psqlBin });
    const setup = await server.psql('CREATE EXTENSION IF NOT EXISTS pgaudit;\nCREATE ROLE auditor NOLOGIN;', { mode: 'script' });
    if (setup.code !== 0 || setup.stderr.includes('ERROR')) throw new Error(`harness setup failed: ${setup.stderr}`);
    return server;
  } catch (err) {
    await stopServer(pgCtl, dataDir, baseDir, false).catch(() => {});
    throw err;
  }
}

async function stopServer(pgCtl: string, dataDir: string, baseDir: string, keepFiles: boolean): Promise<void> {
  const entry = live.get(baseDir);
  live.delete(baseDir);
  if (entry?.watchdog?.pid) {
    try {
      process.kill(entry.watchdog.pid);
    } catch {
      // already gone
    }
  }
  if (existsSync(join(dataDir, 'postmaster.pid'))) {
    const [cmd, args] = asServerUser(pgCtl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60']);
    await run(cmd, args, { cwd: baseDir });
  }
  if (!keepFiles) await rm(baseDir, { recursive: true, force: true });
}

function makeServer(s: { port: number; baseDir: string; dataDir: string; logDir: string; pgCtl: string; psqlBin: string }): PgServer {
  const superuser = 'postgres';
  const passwordFor = (user: string, password?: string) => password ?? (user === superuser ? SUPERUSER_PASSWORD : undefined);
  const logPath = (ext: string) => join(s.logDir, `postgresql.${ext}`);
  const logFiles = async (): Promise<PgLogFiles> => {
    const files: PgLogFiles = {};
    if (existsSync(logPath('csv'))) files.csvlog = logPath('csv');
    if (existsSync(logPath('json'))) files.jsonlog = logPath('json');
    if (existsSync(logPath('log'))) files.stderr = logPath('log');
    return files;
  };
  let stopped = false;
  return {
    host: '127.0.0.1',
    port: s.port,
    baseDir: s.baseDir,
    dataDir: s.dataDir,
    logDir: s.logDir,
    superuser,
    superuserPassword: SUPERUSER_PASSWORD,
    connectionString(user = superuser, db = 'postgres', password?: string) {
      const pw = passwordFor(user, password);
      const auth = pw === undefined ? encodeURIComponent(user) : `${encodeURIComponent(user)}:${encodeURIComponent(pw)}`;
      return `postgresql://${auth}@127.0.0.1:${s.port}/${encodeURIComponent(db)}`;
    },
    psql(sql, opts = {}) {
      const user = opts.user ?? superuser;
      const pw = passwordFor(user, opts.password);
      const host = pw === undefined ? s.baseDir : '127.0.0.1';
      const conn = ['-h', host, '-p', String(s.port), '-U', user, '-d', opts.db ?? 'postgres'];
      // No psqlrc, unaligned tuples only, and keep going after a failed statement like a client would.
      const args = ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=0', ...conn];
      const env: NodeJS.ProcessEnv = { PGPASSWORD: pw ?? '', PGCONNECT_TIMEOUT: '10', PGAPPNAME: opts.applicationName ?? 'psql' };
      if (pw === undefined) delete env.PGPASSWORD;
      if (opts.mode === 'command') return run(s.psqlBin, [...args, '-c', sql], { env, cwd: s.baseDir });
      return run(s.psqlBin, [...args, '-f', '-'], { env, cwd: s.baseDir, input: sql });
    },
    logFiles,
    async flushLogs({ quietMs = 250, timeoutMs = 10_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      let since = Date.now();
      while (Date.now() < deadline) {
        const files = Object.values(await logFiles());
        const sizes = (await Promise.all(files.map((f) => stat(f).then((st) => st.size)))).join(',');
        if (sizes !== last) {
          last = sizes;
          since = Date.now();
        } else if (Date.now() - since >= quietMs) {
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop({ keepFiles = false } = {}) {
      if (stopped) return;
      stopped = true;
      await stopServer(s.pgCtl, s.dataDir, s.baseDir, keepFiles);
    },
  };
}
