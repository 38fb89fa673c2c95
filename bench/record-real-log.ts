/**
 * A csvlog written by a real PostgreSQL 15 + pgAudit server, for benchmarks that must not rely on the
 * generator's idea of a log: `npx tsx bench/record-real-log.ts [--mb 200] [--force]`.
 *
 * The test harness server (`test/support/postgres.ts`: pgaudit.log = all with parameters, relations and rows,
 * object-audit role `auditor`, connection and disconnection lines, the RDS prefix) runs rounds of a mixed
 * workload until its csvlog reaches the size asked for:
 *  - pgbench over TCP with SCRAM as an application role, extended protocol (`-M prepared`), TPC-B-like
 *    transactions and point selects, so pgAudit logs bound parameters, relations and OBJECT lines;
 *  - the same in the simple protocol;
 *  - a round that connects once per transaction (`-C`): connection, authorization and disconnection lines;
 *  - a psql script per round: DDL, GRANT/REVOKE, role changes, a COPY out, failing statements, and logins
 *    with a wrong password.
 * The server's own lines (checkpoints, autovacuum, startup) stay in, as they do in a real instance's log.
 * The result is cached in `bench/.data/real-<mb>mb.csv` with its record counts beside it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { findPgBinDir, startPgServer } from '../test/support/postgres.js';
import { DATA_DIR } from './generate-csvlog.js';

const run = promisify(execFile);

/** Bump when the workload changes, so cached logs are recorded again. */
const RECORDER_VERSION = 1;
const APP_ROLE = 'app';
const APP_PASSWORD = 'app-password';

export function realCsvlogPath(mb: number): string {
  return join(DATA_DIR, `real-v${RECORDER_VERSION}-${mb}mb.csv`);
}

/** The csvlog of a real server of at least `mb` MiB (recorded once, then cached). */
export async function ensureRealCsvlog(
  mb: number,
  log: (line: string) => void = console.error,
  force = false,
): Promise<{ path: string; bytes: number }> {
  const path = realCsvlogPath(mb);
  if (!force && existsSync(path)) return { path, bytes: (await stat(path)).size };
  await mkdir(DATA_DIR, { recursive: true });
  log(`recording a ${mb} MiB csvlog from a real PostgreSQL 15 + pgAudit server (once; cached in ${path}) ...`);
  const started = Date.now();
  const server = await startPgServer({ logDestination: 'csvlog', settings: { max_connections: '50' } });
  try {
    const pgbench = join(findPgBinDir(), 'pgbench');
    const setup = await server.psql(
      [
        `CREATE ROLE ${APP_ROLE} LOGIN PASSWORD '${APP_PASSWORD}';`,
        `CREATE DATABASE bench OWNER ${APP_ROLE};`,
        `GRANT pg_read_all_data TO ${APP_ROLE};`,
      ].join('\n'),
    );
    if (setup.code !== 0 || setup.stderr.includes('ERROR')) throw new Error(`setup failed: ${setup.stderr}`);
    const tcp = ['-h', server.host, '-p', String(server.port), '-U', APP_ROLE];
    const env = { ...process.env, PGPASSWORD: APP_PASSWORD };
    await run(pgbench, [...tcp, '-i', '-s', '5', '-q', 'bench'], { env });
    // pgaudit.role: reads of the accounts table are logged once more as OBJECT lines.
    const grant = await server.psql('GRANT SELECT, UPDATE ON pgbench_accounts TO auditor;', { db: 'bench' });
    if (grant.code !== 0) throw new Error(`grant failed: ${grant.stderr}`);
    const target = mb * 1024 * 1024;
    for (let round = 1; ; round++) {
      const size = await csvlogBytes(server);
      log(`  round ${round}: csvlog ${(size / 1048576).toFixed(0)} of ${mb} MiB`);
      if (size >= target) break;
      const bench = (args: string[]) => run(pgbench, [...tcp, '-n', '-j', '2', ...args, 'bench'], { env, maxBuffer: 16 << 20 });
      await bench(['-c', '4', '-T', '4', '-M', 'prepared', '-b', 'tpcb-like@2', '-b', 'select-only@8']);
      await bench(['-c', '4', '-T', '2', '-M', 'simple', '-b', 'simple-update@3', '-b', 'select-only@7']);
      await bench(['-c', '2', '-T', '1', '-C', '-M', 'simple', '-b', 'select-only']);
      await adminRound(server, round);
    }
    await server.flushLogs();
    const csvlog = (await server.logFiles()).csvlog;
    if (!csvlog) throw new Error('the server wrote no csvlog');
    await copyFile(csvlog, `${path}.partial`);
    await rename(`${path}.partial`, path);
  } finally {
    await server.stop();
  }
  const bytes = (await stat(path)).size;
  await writeFile(`${path}.json`, `${JSON.stringify({ bytes, seconds: (Date.now() - started) / 1000 })}\n`);
  log(`recorded ${(bytes / 1e6).toFixed(1)} MB in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return { path, bytes };
}

async function csvlogBytes(server: Awaited<ReturnType<typeof startPgServer>>): Promise<number> {
  const csvlog = (await server.logFiles()).csvlog;
  return csvlog ? (await stat(csvlog)).size : 0;
}

/** What an administrator and a few mistakes add to a log: DDL, privileges, roles, an export, errors, bad logins. */
async function adminRound(server: Awaited<ReturnType<typeof startPgServer>>, round: number): Promise<void> {
  const t = `report_${round}`;
  await server.psql(
    [
      `CREATE TABLE ${t} (id int PRIMARY KEY, note text);`,
      `INSERT INTO ${t} SELECT g, 'note ' || g FROM generate_series(1, 50) g;`,
      `ALTER TABLE ${t} ADD COLUMN seen timestamptz;`,
      `GRANT SELECT ON ${t} TO ${APP_ROLE};`,
      `REVOKE SELECT ON ${t} FROM ${APP_ROLE};`,
      `CREATE ROLE temp_${round} LOGIN PASSWORD 'x';`,
      `ALTER ROLE temp_${round} CONNECTION LIMIT 2;`,
      `DROP ROLE temp_${round};`,
      `COPY (SELECT * FROM ${t}) TO STDOUT;`,
      'SELECT * FROM no_such_table;',
      `UPDATE ${t} SET note = NULL WHERE id = 'x';`,
      `DROP TABLE ${t};`,
    ].join('\n'),
    { db: 'bench' },
  );
  for (let i = 0; i < 3; i++) await server.psql('SELECT 1', { user: APP_ROLE, db: 'bench', password: 'wrong' });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { mb: { type: 'string', default: '200' }, force: { type: 'boolean', default: false } } });
  const mb = Number(values.mb);
  if (!(mb > 0)) throw new Error('--mb must be a positive number of MiB');
  const { path, bytes } = await ensureRealCsvlog(mb, console.error, values.force);
  console.log(`${path}: ${(bytes / 1e6).toFixed(1)} MB`);
}
