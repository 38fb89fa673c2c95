/** The proxy's security properties against a live PostgreSQL 15: redaction, the authentication gate, limits, leaks. */
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEvent } from '../../src/schema/index.js';
import { type PgServer, startPgServer } from '../support/postgres.js';
import { prependHba, psql, recordedProxy } from './helpers.js';
import { cancelRequest, message, query, RawClient, sqlstate, sslRequest, startupMessage } from './wire.js';

/** Connects a bare socket and collects what the proxy sends until it closes. */
async function rawSocket(port: number): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received: () => Buffer.concat(chunks), closed };
}

/** ErrorResponses in a server byte stream, as SQLSTATE codes. */
function errorCodes(bytes: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i + 5 <= bytes.length) {
    const len = bytes.readInt32BE(i + 1);
    if (bytes[i] === 0x45) out.push(sqlstate(bytes.subarray(i + 5, i + 1 + len)) ?? '');
    i += 1 + len;
  }
  return out;
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('proxy security against PostgreSQL 15', () => {
  let server: PgServer;
  let upstream: string;

  beforeAll(async () => {
    server = await startPgServer();
    upstream = `127.0.0.1:${server.port}`;
    const hba = readFileSync(join(server.dataDir, 'pg_hba.conf'), 'utf8');
    prependHba(server.dataDir, 'host all rawuser 127.0.0.1/32 trust', hba);
    const setup = await server.psql("select pg_reload_conf();\ncreate role rawuser login;\ncreate role app login password 'app-pw';");
    expect(setup.stderr).toBe('');
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('never records a new password, whatever way it is sent (redaction before the queue)', async () => {
    const p = await recordedProxy({ upstream, redact: { functions: [], settings: ['my.secret'] } });
    const script = [
      "CREATE ROLE bob LOGIN PASSWORD 'B0bSecret88';",
      "ALTER ROLE bob ENCRYPTED PASSWORD 'N3wSecret77' VALID UNTIL '2099-01-01';",
      "CREATE ROLE bob PASSWORD 'Fa1lingSecret';", // fails: already exists
      "SET application_name = 'x'; ALTER USER bob PASSWORD $$D0llarSecret$$; select 1;",
      "alter role bob password E'Esc\\'Secret';",
      "select 'PASSWORD ''visible''' as c; -- PASSWORD 'comment'",
      'DROP ROLE bob;',
      '',
    ].join('\n');
    const r = await psql(p.port, script);
    expect(r.stderr).toMatch(/role "bob" already exists/);
    // -c sends the whole string as one Query: a multi-statement string.
    await psql(p.port, "SET application_name = 'y'; CREATE ROLE carol PASSWORD 'Mult1Secret'; DROP ROLE carol", { command: true });
    const client = new pg.Client({ host: '127.0.0.1', port: p.port, user: 'postgres', password: 'postgres', database: 'postgres' });
    await client.connect();
    // The server takes no parameters in utility statements: the Parse fails and the Bind is never recorded.
    await expect(client.query('ALTER ROLE app PASSWORD $1', ['P4ramSecret'])).rejects.toThrow();
    // A configured secret setting, bound as a parameter: its value is blanked.
    await client.query('select set_config($1, $2, false)', ['my.secret', 'S3tting']);
    await client.query("select set_config('my.secret', $1, false)", ['S3tting2']);
    await client.end();
    await p.close();
    const all = JSON.stringify(p.batches);
    for (const secret of [
      'Mult1Secret',
      'B0bSecret88',
      'N3wSecret77',
      'Fa1lingSecret',
      'D0llarSecret',
      'EscSecret',
      "Esc\\'Secret",
      'P4ramSecret',
      'S3tting2',
    ])
      expect(all).not.toContain(secret);
    const texts = p.events.map((e) => e.statement_text).filter((t) => t !== null);
    expect(texts).toContain('CREATE ROLE bob LOGIN PASSWORD <REDACTED>;');
    expect(texts).toContain("ALTER ROLE bob ENCRYPTED PASSWORD <REDACTED> VALID UNTIL '2099-01-01';");
    expect(texts).toContain('CREATE ROLE bob PASSWORD <REDACTED>;');
    expect(texts).toContain('ALTER USER bob PASSWORD <REDACTED>;');
    expect(texts).toContain('CREATE ROLE carol PASSWORD <REDACTED>');
    expect(texts.some((t) => t.startsWith("select 'PASSWORD ''visible''' as c;"))).toBe(true);
    const param = p.events.find((e) => e.statement_text === "select set_config('my.secret', $1, false)");
    expect(param?.parameters).toEqual(['<REDACTED>']);
    // A setting name that is itself a parameter cannot be recognized: said in the README.
    expect(p.events.find((e) => e.statement_text === 'select set_config($1, $2, false)')?.parameters).toEqual(['my.secret', 'S3tting']);
    for (const e of p.events) expect(checkEvent(e)).toBeNull();
  });

  it('records no statement a client sends before authenticating: one failed CONNECT (08P01), then close', async () => {
    const p = await recordedProxy({ upstream });
    const { socket, received, closed } = await rawSocket(p.port);
    // 'app' needs a password; the client sends forged statements instead, a thousand of them.
    const forged = Array.from({ length: 1000 }, () => query('DROP TABLE payroll_0'));
    socket.write(Buffer.concat([startupMessage({ user: 'app', database: 'postgres' }), ...forged]));
    await closed;
    await p.close();
    expect(errorCodes(received())).toEqual(['08P01']);
    expect(p.events.map((e) => [e.event_class, e.success, e.error_code, e.db_user])).toEqual([['CONNECT', false, '08P01', 'app']]);
    expect(p.events.some((e) => e.statement_text !== null)).toBe(false);
    expect(p.proxy.stats().protocolViolations).toBe(1);
  });

  it('logs in with a password through the gate (md5 and SCRAM), then relays and records', async () => {
    const p = await recordedProxy({ upstream });
    const ok = await psql(p.port, 'select 41 + 1;', { user: 'app', password: 'app-pw', command: true });
    expect(ok.stdout.trim()).toBe('42');
    const bad = await psql(p.port, 'select 1;', { user: 'app', password: 'wrong', command: true });
    expect(bad.stderr).toMatch(/password authentication failed/);
    await p.close();
    expect(p.events.map((e) => e.event_class)).toEqual(['CONNECT', 'READ', 'DISCONNECT', 'AUTH_FAILURE']);
  });

  it('leaks no socket when unauthenticated clients send megabytes, and closes after the server drops them', async () => {
    const p = await recordedProxy({ upstream, lingerMs: 500 });
    const clients = await Promise.all(Array.from({ length: 50 }, () => rawSocket(p.port)));
    const junk = Buffer.alloc(2 * 1024 * 1024, 0x70); // 'p' messages with an absurd length
    for (const c of clients) {
      c.socket.write(startupMessage({ user: 'nosuchuser', database: 'postgres' }));
      c.socket.write(junk);
    }
    await Promise.all(clients.map((c) => c.closed));
    await until(() => p.proxy.stats().activeSessions === 0);
    expect(p.proxy.stats().startupSessions).toBe(0);
    await p.close();
    expect(p.events.every((e) => e.event_class === 'CONNECT' && !e.success)).toBe(true);
  });

  it('stops reading a client once the server side ended (5-byte Syncs after a failed login)', async () => {
    const p = await recordedProxy({ upstream, lingerMs: 300 });
    const { socket, closed } = await rawSocket(p.port);
    socket.write(startupMessage({ user: 'nosuchuser', database: 'postgres' }));
    // A stream that never ends: the proxy must close it, not parse it.
    const syncs = Buffer.concat(Array.from({ length: 20_000 }, () => message('S')));
    const timer = setInterval(() => socket.writable && socket.write(syncs), 5);
    await closed;
    clearInterval(timer);
    await until(() => p.proxy.stats().activeSessions === 0);
    await p.close();
  });

  it('closes connections that never finish logging in, and caps connections with counted refusals', async () => {
    const p = await recordedProxy({ upstream, authTimeoutMs: 300, maxStartupConnections: 2, lingerMs: 200 });
    const idle = await Promise.all([rawSocket(p.port), rawSocket(p.port)]);
    const third = await rawSocket(p.port);
    await third.closed;
    expect(errorCodes(third.received())).toEqual(['53300']);
    await Promise.all(idle.map((c) => c.closed));
    await until(() => p.proxy.stats().activeSessions === 0);
    expect(p.proxy.stats()).toMatchObject({ authTimeouts: 2, refused: { max_startup_connections: 1 } });
    await p.close();

    const q = await recordedProxy({ upstream, maxConnections: 1 });
    const one = await RawClient.connect(q.port, { user: 'rawuser', database: 'postgres' });
    const two = await rawSocket(q.port);
    await two.closed;
    expect(errorCodes(two.received())).toEqual(['53300']);
    await one.end();
    await q.close();
    expect(q.proxy.stats().refused.max_connections).toBe(1);
  });

  it('relays a query with 40,000 parameters (uint16 counts) and records them', async () => {
    const p = await recordedProxy({ upstream });
    const client = new pg.Client({ host: '127.0.0.1', port: p.port, user: 'postgres', password: 'postgres', database: 'postgres' });
    await client.connect();
    const n = 40_000;
    const values = Array.from({ length: n }, (_, i) => i);
    const text = `select array_length(array[${values.map((i) => `$${i + 1}::int`).join(',')}], 1) as n`;
    const r = await client.query(text, values);
    expect(r.rows[0].n).toBe(n);
    await client.end();
    await p.close();
    const e = p.events.find((x) => x.event_class === 'READ');
    expect(e?.parameters?.length).toBe(n);
    expect(p.proxy.stats().recorderFailures).toBe(0);
  });

  it('records a huge statement from its prefix, flagged in raw_extras, and relays it whole', async () => {
    const p = await recordedProxy({ upstream, maxRecordedBytes: 4096 });
    const c = await RawClient.connect(p.port, { user: 'rawuser', database: 'postgres' });
    const big = 'x'.repeat(300_000);
    c.write(query(`select length('${big}')`));
    const answers = await c.readUntil(1);
    expect(answers.find((m) => m.type === 'D')?.body.toString()).toContain('300000');
    await c.end();
    await p.close();
    const e = p.events.find((x) => x.event_class === 'READ');
    expect(e?.statement_text?.startsWith("select length('xxx")).toBe(true);
    expect(e?.statement_text?.length).toBeLessThanOrEqual(4096);
    expect(JSON.parse(e?.raw_extras ?? '{}')).toMatchObject({ statement_truncated: true, message_bytes: 300_018 });
  });

  it('takes one CancelRequest per connection, however many it carries', async () => {
    const p = await recordedProxy({ upstream });
    const { socket, closed } = await rawSocket(p.port);
    socket.write(Buffer.concat(Array.from({ length: 1000 }, (_, i) => cancelRequest(i, i))));
    await closed;
    await p.close();
    expect(p.proxy.stats()).toMatchObject({ cancelsUnknown: 1, cancelsForwarded: 0 });
  });

  it('refuses a second SSLRequest', async () => {
    const p = await recordedProxy({ upstream });
    const a = await rawSocket(p.port);
    a.socket.write(Buffer.concat([sslRequest(), sslRequest()]));
    await a.closed;
    expect(a.received().subarray(0, 1).toString()).toBe('N');
    expect(errorCodes(a.received().subarray(1))).toEqual(['08P01']);
    await p.close();
  });

  it('tells an unauthenticated client only that the server is unreachable; the event keeps the details', async () => {
    const blackhole = createServer();
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
    const port = (blackhole.address() as { port: number }).port;
    await new Promise<void>((r) => blackhole.close(() => r()));
    const p = await recordedProxy({ upstream: `127.0.0.1:${port}` });
    const r = await psql(p.port, 'select 1', { command: true });
    await p.close();
    expect(r.stderr).toMatch(/could not connect to the server/);
    expect(r.stderr).not.toContain(String(port));
    expect(p.events[0]).toMatchObject({ event_class: 'CONNECT', success: false, error_code: '08001' });
    expect(p.events[0].error_message).toContain(String(port));
  });

  it('records no parameter values with recordParameters false', async () => {
    const p = await recordedProxy({ upstream, recordParameters: false });
    const client = new pg.Client({ host: '127.0.0.1', port: p.port, user: 'postgres', password: 'postgres', database: 'postgres' });
    await client.connect();
    await client.query('select $1::text as v', ['secret-value']);
    await client.end();
    await p.close();
    expect(JSON.stringify(p.events)).not.toContain('secret-value');
    expect(p.events.find((e) => e.event_class === 'READ')?.parameters).toBeNull();
  });
});
