/** Shared plumbing of the proxy integration tests: a proxy whose events are collected, psql runs, certificates. */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type ProxyOptionsInput, type RunningProxy, startProxy } from '../../src/proxy/index.js';
import type { AuditEvent, Batch } from '../../src/schema/index.js';

const run = promisify(execFile);

/** A proxy and everything it recorded so far. */
export interface RecordedProxy {
  proxy: RunningProxy;
  port: number;
  events: AuditEvent[];
  batches: Batch[];
  /** Closes the proxy and waits until the consumer has taken the last batch. */
  close(): Promise<void>;
  /** Waits until `predicate` holds for the events recorded so far. */
  waitFor(predicate: (events: AuditEvent[]) => boolean, timeoutMs?: number): Promise<void>;
}

export async function recordedProxy(options: Partial<ProxyOptionsInput> & { upstream: string }): Promise<RecordedProxy> {
  const proxy = await startProxy({ listen: '127.0.0.1:0', flushAgeMs: 20, shutdownTimeoutMs: 2000, ...options });
  const events: AuditEvent[] = [];
  const batches: Batch[] = [];
  const consumer = (async () => {
    for await (const b of proxy.events) {
      batches.push(b);
      events.push(...b.events);
    }
  })();
  return {
    proxy,
    port: proxy.address.port,
    events,
    batches,
    async close() {
      await proxy.close();
      await consumer;
    },
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(events)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for events; have ${events.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** Runs psql against a port (script on stdin unless `command`), never throwing on a non-zero exit. */
export async function psql(
  port: number,
  sql: string,
  opts: { user?: string; password?: string; command?: boolean; env?: Record<string, string> } = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  const args = ['-X', '-A', '-t', '-q', '-h', '127.0.0.1', '-p', String(port), '-U', opts.user ?? 'postgres', '-d', 'postgres'];
  const env = { ...process.env, PGPASSWORD: opts.password ?? 'postgres', PGAPPNAME: 'psql', PGCONNECT_TIMEOUT: '10', ...opts.env };
  const full = opts.command ? [...args, '-c', sql] : [...args, '-f', '-'];
  return new Promise((resolve) => {
    const child = execFile('psql', full, { env }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 });
    });
    child.stdin?.end(opts.command ? '' : sql);
  });
}

/** A self-signed certificate for 127.0.0.1, readable by the `postgres` OS user when we are root. */
export async function selfSignedCert(): Promise<{ dir: string; cert: string; key: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'auditlake-proxy-tls-'));
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  chmodSync(dir, 0o755);
  chmodSync(key, 0o600);
  if (process.getuid?.() === 0) {
    const { stdout: uid } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    for (const f of [cert, key]) chownSync(f, Number(uid), Number(gid));
  }
  return { dir, cert, key };
}

/** Prepends `lines` to the server's pg_hba.conf; the caller reloads the configuration. */
export function prependHba(dataDir: string, lines: string, current: string): void {
  writeFileSync(join(dataDir, 'pg_hba.conf'), `${lines}\n${current}`);
}

/** The statement events of a list, as compact tuples for exact comparison. */
export function statements(events: AuditEvent[]): [string, string | null, string | null, number | null, boolean, string | null][] {
  return events
    .filter((e) => !['CONNECT', 'DISCONNECT', 'AUTH_FAILURE'].includes(e.event_class))
    .map((e) => [e.event_class, e.command, e.statement_text, e.row_count, e.success, e.error_code]);
}
