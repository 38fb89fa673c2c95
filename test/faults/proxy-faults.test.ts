import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryLake } from '../../src/cli/commands/query.js';
import { FsStorage } from '../../src/lake/fs-storage.js';
import { parseDigest } from '../../src/lake/integrity/digest-record.js';
import { UNIT_FAULT_ENV } from '../../src/lake/unit.js';
import { cli } from '../support/cli.js';
import { type PgServer, startPgServer } from '../support/postgres.js';

/**
 * The proxy killed (SIGKILL) while it publishes a unit of recorded events, against a live PostgreSQL
 * 15: a unit killed after its commit record is rolled forward whole by the next command that writes
 * the lake (here `compact`); the lake then verifies clean and holds each of the unit's events once.
 */

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('fault campaign: the proxy killed while it publishes a unit', () => {
  let server: PgServer;
  let dir: string;

  beforeAll(async () => {
    server = await startPgServer();
    dir = await mkdtemp(join(tmpdir(), 'auditlake-proxy-faults-'));
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['stream-journal', 'after its commit record, before any file moved'],
    ['stream-moved-1', 'after its first file moved'],
  ])(
    'killed at %s (%s): the next writer finishes the unit, verify is clean',
    async (step) => {
      const lake = join(dir, step);
      const port = await freePort();
      const proxy: ChildProcess = spawn(
        process.execPath,
        [
          'bin/auditlake.js',
          'proxy',
          '--listen',
          `127.0.0.1:${port}`,
          '--upstream',
          `127.0.0.1:${server.port}`,
          '--out',
          lake,
          '--flush-events',
          '5',
        ],
        { env: { ...process.env, [UNIT_FAULT_ENV]: step }, stdio: 'ignore' },
      );
      const exited = new Promise<NodeJS.Signals | null>((resolve) => proxy.once('exit', (_code, signal) => resolve(signal)));
      // Wait for the listener, then send statements until the first unit's commit kills the proxy.
      let client: pg.Client | null = null;
      for (let i = 0; i < 100 && !client; i++) {
        const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'postgres', database: 'postgres' });
        client = await c.connect().then(
          () => c,
          () => null,
        );
        if (!client) await new Promise((r) => setTimeout(r, 100));
      }
      expect(client).not.toBeNull();
      client?.on('error', () => {});
      for (let i = 0; i < 50; i++) {
        const ok = await client?.query(`SELECT ${i} AS n`).then(
          () => true,
          () => false,
        );
        if (!ok) break;
      }
      await client?.end().catch(() => {});
      expect(await exited).toBe('SIGKILL');

      const storage = new FsStorage(lake);
      const journals = await storage.list('_state/journal/');
      expect(journals.length).toBe(1);
      const journal = JSON.parse(((await storage.get(journals[0])) as Buffer).toString('utf8')) as {
        commit: { written: { key: string; rows?: number }[] };
      };
      const unitRows = journal.commit.written.filter((w) => w.key.endsWith('.parquet')).reduce((n, w) => n + (w.rows ?? 0), 0);
      expect(unitRows).toBeGreaterThanOrEqual(5);

      // Any writing command finishes the unit first: here a compaction.
      expect((await cli('compact', '--lake', lake, '--json')).code).toBe(0);
      expect(await storage.list('_state/journal/')).toEqual([]);
      expect(await storage.list('_state/pending/')).toEqual([]);
      const { rows } = await queryLake(lake, 'SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM audit_events');
      expect(rows[0]).toEqual({ n: String(unitRows), d: String(unitRows) });
      // The unit's digest was appended by the roll forward: the lake verifies clean.
      const digests = (await storage.list('_state/digests/')).filter((k) => k.endsWith('.json'));
      const first = parseDigest((await storage.get(digests[0])) as Buffer);
      expect(first.kind).toBe('stream');
      const verify = await cli('verify', '--lake', lake);
      expect(verify.out).toContain('verify: clean');
      expect(verify.code).toBe(0);
    },
    120_000,
  );
});
