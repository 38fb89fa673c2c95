/**
 * Fail-closed recording: a storage that fails on demand (as the OpenTelemetry Collector's contract
 * checker injects downstream failures) under the proxy, against a live PostgreSQL 15.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordProxyEvents } from '../../src/cli/proxy-recording.js';
import { FsStorage } from '../../src/lake/fs-storage.js';
import { LakeWriter } from '../../src/lake/lake-writer.js';
import { startProxy } from '../../src/proxy/index.js';
import { type PgServer, startPgServer } from '../support/postgres.js';

/** A local storage whose writes fail while `failing` is set. */
class FailingStorage extends FsStorage {
  failing = false;
  override async putFile(key: string, localPath: string): Promise<void> {
    if (this.failing) throw new Error(`injected failure writing ${key}`);
    return super.putFile(key, localPath);
  }
  override async putBytes(key: string, body: Buffer | string): Promise<void> {
    if (this.failing) throw new Error(`injected failure writing ${key}`);
    return super.putBytes(key, body);
  }
}

/** Events in the units committed so far, from their manifests. */
async function committedEvents(storage: FsStorage): Promise<number> {
  let n = 0;
  for (const key of await storage.list('_state/manifests/')) n += JSON.parse(((await storage.get(key)) as Buffer).toString('utf8')).events;
  return n;
}

const clientFor = (port: number) =>
  new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'postgres', database: 'postgres' });

describe('fail-closed recording', () => {
  let server: PgServer;
  let dir: string;

  beforeAll(async () => {
    server = await startPgServer();
    dir = mkdtempSync(join(tmpdir(), 'auditlake-fail-closed-'));
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(onOverflow: 'block' | 'drop', lakeName: string) {
    const storage = new FailingStorage(join(dir, lakeName));
    const lake = await LakeWriter.open(storage);
    const proxy = await startProxy({ listen: '127.0.0.1:0', upstream: `127.0.0.1:${server.port}`, flushAgeMs: 10, onOverflow });
    // Events of the units whose writing has finished (manifest, digest and all), as the result counts them.
    const written = { events: 0 };
    const recording = recordProxyEvents(proxy, lake, null, {
      onOverflow,
      flushEvents: 1,
      flushMs: 50,
      onUnit: (unit) => {
        written.events += unit.events;
      },
    });
    return { storage, lake, proxy, recording, written };
  }

  it('block: a write failure refuses new clients, ends open sessions with 57P01 and fails the run', async () => {
    const { storage, lake, proxy, recording, written } = await run('block', 'block');
    const a = clientFor(proxy.address.port);
    const errors: string[] = [];
    a.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
    await a.connect();
    await a.query('select 1');
    // Wait until CONNECT and select 1 are written whole (units of one flush each), however slow the machine.
    // Not the manifests: a unit's manifest is stored before its digest, and failing in between fails that unit.
    for (let waited = 0; written.events < 2 && waited < 20_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(await committedEvents(storage)).toBeGreaterThanOrEqual(2);
    storage.failing = true;
    await a.query('select 2').catch(() => {});
    const result = await recording;
    await lake.close();
    expect(result.error?.message).toMatch(/injected failure/);
    expect(result.events).toBeGreaterThanOrEqual(2); // CONNECT and select 1 were durable
    // The open session was ended by the proxy with 57P01, and a new client is refused.
    await expect(a.query('select 3')).rejects.toThrow();
    expect(errors.join(' ')).toMatch(/57P01|terminat/);
    const b = clientFor(proxy.address.port);
    await expect(b.connect()).rejects.toThrow();
    expect(proxy.stats().activeSessions).toBe(0);
  });

  it('drop: sessions go on while every event recorded after the failure is counted as lost', async () => {
    const { storage, lake, proxy, recording } = await run('drop', 'drop');
    storage.failing = true;
    const a = clientFor(proxy.address.port);
    await a.connect();
    for (let i = 0; i < 20; i++) await a.query('select $1::int', [i]);
    await a.end();
    await new Promise((r) => setTimeout(r, 200));
    await proxy.close();
    const result = await recording;
    await lake.close();
    expect(result.error?.message).toMatch(/injected failure/);
    // CONNECT, 20 statements, DISCONNECT: none durable, all counted.
    expect(result.events).toBe(0);
    expect(result.lost).toBe(22);
  });
});
