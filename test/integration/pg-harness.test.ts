import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgServer, startPgServer } from '../support/postgres.js';

describe('PostgreSQL test harness', () => {
  let server: PgServer;

  beforeAll(async () => {
    server = await startPgServer();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('runs SQL over TCP and writes pgAudit lines to all three logs', async () => {
    const res = await server.psql('select 1');
    expect(res).toMatchObject({ stdout: '1\n', code: 0 });
    await server.flushLogs();
    const files = await server.logFiles();
    expect(Object.keys(files).sort()).toEqual(['csvlog', 'jsonlog', 'stderr']);
    const csv = await readFile(files.csvlog as string, 'utf8');
    expect(csv).toContain('AUDIT: SESSION,1,1,READ,SELECT,,,select 1,<none>,1');
    const stderr = await readFile(files.stderr as string, 'utf8');
    // The RDS/Aurora prefix: %t:%r:%u@%d:[%p]:
    expect(stderr).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC:127\.0\.0\.1\(\d+\):postgres@postgres:\[\d+\]:LOG: {2}AUDIT: SESSION/m);
  });

  it('builds connection strings with the superuser password', () => {
    expect(server.connectionString()).toBe(`postgresql://postgres:postgres@127.0.0.1:${server.port}/postgres`);
    expect(server.connectionString('app', 'appdb', 'p@ss')).toBe(`postgresql://app:p%40ss@127.0.0.1:${server.port}/appdb`);
  });

  it('removes its temp dir on stop', async () => {
    const other = await startPgServer();
    await other.stop();
    await expect(readFile(`${other.dataDir}/PG_VERSION`)).rejects.toThrow();
  }, 60_000);
});
