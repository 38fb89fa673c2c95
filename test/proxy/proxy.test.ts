import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEvent } from '../../src/schema/index.js';
import { type PgServer, startPgServer } from '../support/postgres.js';
import { prependHba, psql, recordedProxy, selfSignedCert, statements } from './helpers.js';
import { bind, cancelRequest, describe as describeMsg, execute, parse, query, RawClient, sqlstate, sync } from './wire.js';

const run = promisify(execFile);

describe('recording proxy against PostgreSQL 15', () => {
  let server: PgServer;
  let tls: { dir: string; cert: string; key: string };
  let upstream: string;

  beforeAll(async () => {
    tls = await selfSignedCert();
    server = await startPgServer({ settings: { ssl: 'on', ssl_cert_file: `'${tls.cert}'`, ssl_key_file: `'${tls.key}'` } });
    upstream = `127.0.0.1:${server.port}`;
    const hba = readFileSync(join(server.dataDir, 'pg_hba.conf'), 'utf8');
    prependHba(server.dataDir, 'host all rawuser 127.0.0.1/32 trust', hba);
    const setup = await server.psql(
      "select pg_reload_conf();\ncreate role rawuser login;\ncreate role app login password 'app-pw';\ngrant create on schema public to rawuser;",
    );
    expect(setup.stderr).toBe('');
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    if (tls) rmSync(tls.dir, { recursive: true, force: true });
  });

  it('relays psql scripts unchanged and records each statement, COPY in and out included', async () => {
    const script = [
      'create table items(id int primary key, name text);',
      "insert into items values (1, 'a'), (2, 'b');",
      'copy items from stdin;',
      '3\tc',
      '4\td',
      '\\.',
      'select id, name from items order by id;',
      'copy (select id from items order by id) to stdout;',
      "update items set name = 'z' where id > 2;",
      'delete from items where id = 4;',
      'drop table items;',
      '',
    ].join('\n');
    const direct = await psql(server.port, script);
    const p = await recordedProxy({ upstream });
    const proxied = await psql(p.port, script);
    await p.close();
    expect(proxied).toEqual(direct);
    expect(proxied.stdout).toBe('1|a\n2|b\n3|c\n4|d\n1\n2\n3\n4\n');
    expect(statements(p.events)).toEqual([
      ['DDL', 'CREATE TABLE', 'create table items(id int primary key, name text);', null, true, null],
      ['WRITE', 'INSERT', "insert into items values (1, 'a'), (2, 'b');", 2, true, null],
      ['WRITE', 'COPY', 'copy items from stdin;', 2, true, null],
      ['READ', 'SELECT', 'select id, name from items order by id;', 4, true, null],
      ['READ', 'COPY', 'copy (select id from items order by id) to stdout;', 4, true, null],
      ['WRITE', 'UPDATE', "update items set name = 'z' where id > 2;", 2, true, null],
      ['WRITE', 'DELETE', 'delete from items where id = 4;', 1, true, null],
      ['DDL', 'DROP TABLE', 'drop table items;', null, true, null],
    ]);
    const [connectEvent] = p.events;
    expect(connectEvent).toMatchObject({
      event_class: 'CONNECT',
      db_user: 'postgres',
      database_name: 'postgres',
      application_name: 'psql',
      client_addr: '127.0.0.1',
      success: true,
    });
    expect(p.events.at(-1)).toMatchObject({ event_class: 'DISCONNECT', success: true });
    for (const e of p.events) expect(checkEvent(e)).toBeNull();
    expect(new Set(p.events.map((e) => e.event_id)).size).toBe(p.events.length);
    // Every client message is accounted for: events or a counted skip.
    const records = p.batches.reduce((n, b) => n + b.records, 0);
    const skipped = p.batches.reduce((n, b) => n + Object.values(b.skipped).reduce((a, c) => a + c, 0), 0);
    expect(records).toBe(skipped + 8 /* Query messages */ + 1 /* StartupMessage */);
  });

  it('splits a multi-statement query string and stops at its failing statement', async () => {
    const p = await recordedProxy({ upstream });
    const res = await psql(p.port, "select 1; select 'a;b'; select 1/0; select 3", { command: true });
    await p.close();
    expect(res.stderr).toContain('division by zero');
    expect(statements(p.events)).toEqual([
      ['READ', 'SELECT', 'select 1', 1, true, null],
      ['READ', 'SELECT', "select 'a;b'", 1, true, null],
      ['READ', 'SELECT', 'select 1/0', null, false, '22012'],
    ]);
    expect(p.events.filter((e) => e.event_class === 'READ').map((e) => e.substatement_id)).toEqual([1, 2, 3]);
  });

  it('records prepared statements with text and binary parameters from node-postgres', async () => {
    const p = await recordedProxy({ upstream });
    const work = async (port: number, table: string) => {
      const c = new pg.Client({
        host: '127.0.0.1',
        port,
        user: 'postgres',
        password: 'postgres',
        database: 'postgres',
        application_name: 'pgtest',
      });
      await c.connect();
      await c.query(`create table ${table}(k text primary key, v bytea, n int)`);
      const ins = `insert into ${table} values ($1, $2, $3)`;
      await c.query({ name: 'ins', text: ins, values: ['a', Buffer.from([1, 2, 3]), 7] });
      await c.query({ name: 'ins', text: ins, values: ['b', null, 8] });
      const rows = (await c.query(`select k, v, n from ${table} where n > $1 order by k`, [0])).rows;
      await c.end();
      return rows;
    };
    const direct = await work(server.port, 'kv_direct');
    const proxied = await work(p.port, 'kv_proxied');
    await p.close();
    expect(proxied).toEqual(direct);
    expect(statements(p.events)).toEqual([
      ['DDL', 'CREATE TABLE', 'create table kv_proxied(k text primary key, v bytea, n int)', null, true, null],
      ['WRITE', 'INSERT', 'insert into kv_proxied values ($1, $2, $3)', 1, true, null],
      ['WRITE', 'INSERT', 'insert into kv_proxied values ($1, $2, $3)', 1, true, null],
      ['READ', 'SELECT', 'select k, v, n from kv_proxied where n > $1 order by k', 2, true, null],
    ]);
    const params = p.events.filter((e) => e.event_class === 'WRITE' || e.event_class === 'READ').map((e) => [e.parameters, e.raw_extras]);
    expect(params).toEqual([
      [['a', 'AQID', '7'], JSON.stringify({ binary_parameters: [{ index: 2, type_oid: null }] })],
      [['b', '', '8'], JSON.stringify({ null_parameters: [2] })],
      [['0'], null],
    ]);
    expect(p.events[0].application_name).toBe('pgtest');
  });

  it('matches pipelined extended-protocol answers in order and skips to Sync after an error', async () => {
    const p = await recordedProxy({ upstream });
    const c = await RawClient.connect(p.port, { user: 'rawuser', database: 'postgres', application_name: 'raw' });
    c.write(
      parse('', 'select $1::int + 1'),
      bind('', '', ['41']),
      execute(),
      sync(),
      parse('', 'select 1/0'),
      bind('', '', []),
      execute(),
      parse('', 'select 2'),
      bind('', '', []),
      execute(),
      sync(),
      parse('s3', 'select $1 * 2', [23]),
      describeMsg('S', 's3'),
      bind('p3', 's3', [Buffer.from([0, 0, 0, 21])]),
      execute('p3'),
      sync(),
      query('select 10; select 20'),
    );
    const answers = await c.readUntil(4);
    await c.end();
    await p.close();
    const types = answers.map((m) => m.type).join('');
    expect(types).toBe('12DCZ1EZ1tT2DCZTDCTDCZ');
    expect(sqlstate(answers.find((m) => m.type === 'E')?.body as Buffer)).toBe('22012');
    expect(statements(p.events)).toEqual([
      ['READ', 'SELECT', 'select $1::int + 1', 1, true, null],
      ['READ', 'SELECT', 'select 1/0', null, false, '22012'],
      ['READ', 'SELECT', 'select $1 * 2', 1, true, null],
      ['READ', 'SELECT', 'select 10', 1, true, null],
      ['READ', 'SELECT', 'select 20', 1, true, null],
    ]);
    const reads = p.events.filter((e) => e.event_class === 'READ');
    expect(reads.map((e) => e.parameters)).toEqual([['41'], [], ['AAAAFQ=='], [], []]);
    expect(reads[2].raw_extras).toBe(JSON.stringify({ binary_parameters: [{ index: 1, type_oid: 23 }] }));
    // 1/0 is folded when the unnamed statement is planned, at Bind (message 7): the server has no BindComplete for it.
    expect(reads.map((e) => e.statement_id)).toEqual([4, 7, 16, 18, 18]);
    const skipped: Record<string, number> = {};
    for (const b of p.batches) for (const [k, v] of Object.entries(b.skipped)) skipped[k] = (skipped[k] ?? 0) + v;
    // After the failed Bind the server ignores its Execute and the whole third group, up to Sync.
    expect(skipped).toMatchObject({ 'Parse ignored after error': 1, 'Bind ignored after error': 1, 'Execute ignored after error': 2 });
  });

  it('records errors inside a transaction, including the aborted-transaction errors that follow', async () => {
    const p = await recordedProxy({ upstream });
    const c = new pg.Client({ host: '127.0.0.1', port: p.port, user: 'postgres', password: 'postgres', database: 'postgres' });
    await c.connect();
    await c.query('begin');
    await c.query('create temp table tx(a int)');
    await expect(c.query('select 1/0')).rejects.toMatchObject({ code: '22012' });
    await expect(c.query('insert into tx values (1)')).rejects.toMatchObject({ code: '25P02' });
    await c.query('rollback');
    await c.end();
    await p.close();
    expect(statements(p.events)).toEqual([
      ['MISC', 'BEGIN', 'begin', null, true, null],
      ['DDL', 'CREATE TABLE', 'create temp table tx(a int)', null, true, null],
      ['READ', 'SELECT', 'select 1/0', null, false, '22012'],
      ['WRITE', 'INSERT', 'insert into tx values (1)', null, false, '25P02'],
      ['MISC', 'ROLLBACK', 'rollback', null, true, null],
    ]);
  });

  it('records failed SCRAM logins as AUTH_FAILURE without any password material', async () => {
    const p = await recordedProxy({ upstream });
    const attempt = (port: number) =>
      new pg.Client({ host: '127.0.0.1', port, user: 'app', password: 'wrong-pw', database: 'postgres' })
        .connect()
        .catch((e: { code: string }) => e.code);
    expect(await attempt(server.port)).toBe('28P01');
    expect(await attempt(p.port)).toBe('28P01');
    const ok = new pg.Client({ host: '127.0.0.1', port: p.port, user: 'app', password: 'app-pw', database: 'postgres' });
    await ok.connect();
    await ok.end();
    await p.close();
    const failure = p.events.find((e) => e.event_class === 'AUTH_FAILURE');
    expect(failure).toMatchObject({
      db_user: 'app',
      database_name: 'postgres',
      client_addr: '127.0.0.1',
      success: false,
      error_code: '28P01',
    });
    expect(failure?.error_message).toBe('password authentication failed for user "app"');
    expect(p.events.map((e) => e.event_class)).toEqual(['AUTH_FAILURE', 'CONNECT', 'DISCONNECT']);
    const all = JSON.stringify(p.events) + JSON.stringify(p.batches.map((b) => b.rejected));
    expect(all).not.toContain('wrong-pw');
    expect(all).not.toContain('app-pw');
    expect(all).not.toContain('n,,n=');
  });

  it('accepts TLS from clients and uses TLS to the server', async () => {
    const p = await recordedProxy({ upstream, tlsCert: tls.cert, tlsKey: tls.key, upstreamTls: 'verify-full', upstreamCa: tls.cert });
    const res = await psql(p.port, 'select ssl from pg_stat_ssl where pid = pg_backend_pid()', {
      command: true,
      env: { PGSSLMODE: 'verify-full', PGSSLROOTCERT: tls.cert },
    });
    await p.close();
    expect(res).toMatchObject({ stdout: 't\n', code: 0 });
    expect(p.events[0]).toMatchObject({ event_class: 'CONNECT', raw_extras: '{"client_tls":true,"upstream_tls":true}' });
    expect(statements(p.events)).toEqual([['READ', 'SELECT', 'select ssl from pg_stat_ssl where pid = pg_backend_pid()', 1, true, null]]);

    const plain = await recordedProxy({ upstream });
    const refused = await psql(plain.port, 'select 1', { command: true, env: { PGSSLMODE: 'require' } });
    const fallback = await psql(plain.port, 'select 1', { command: true, env: { PGSSLMODE: 'prefer' } });
    await plain.close();
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('server does not support SSL');
    expect(fallback.stdout).toBe('1\n');
  });

  it('upstream verify-full refuses a certificate from another CA and a host name mismatch', async () => {
    const other = await selfSignedCert();
    try {
      const wrongCa = await recordedProxy({ upstream, upstreamTls: 'verify-full', upstreamCa: other.cert });
      const r1 = await psql(wrongCa.port, 'select 1', { command: true });
      await wrongCa.close();
      expect(r1.code).not.toBe(0);
      expect(wrongCa.events[0]).toMatchObject({ event_class: 'CONNECT', success: false, error_code: '08001' });
      expect(wrongCa.events[0].error_message).toMatch(/TLS with server .* failed: .*(self[- ]signed|unable to verify|certificate)/i);

      // The certificate names 127.0.0.1 only; "localhost" is another name.
      const wrongName = await recordedProxy({ upstream: `localhost:${server.port}`, upstreamTls: 'verify-full', upstreamCa: tls.cert });
      const r2 = await psql(wrongName.port, 'select 1', { command: true });
      await wrongName.close();
      expect(r2.code).not.toBe(0);
      expect(wrongName.events[0].error_message).toMatch(/Hostname\/IP does not match|altnames/i);
    } finally {
      rmSync(other.dir, { recursive: true, force: true });
    }
  });

  it('never downgrades a client that asks for TLS, and refuses plaintext under clientTls require', async () => {
    const p = await recordedProxy({ upstream, tlsCert: tls.cert, tlsKey: tls.key, clientTls: 'require' });
    const prefer = await psql(p.port, 'select 1', { command: true, env: { PGSSLMODE: 'prefer' } });
    const plain = await psql(p.port, 'select 1', { command: true, env: { PGSSLMODE: 'disable' } });
    await p.close();
    expect(prefer.stdout).toBe('1\n');
    expect(p.events[0]).toMatchObject({ event_class: 'CONNECT', success: true, raw_extras: '{"client_tls":true,"upstream_tls":false}' });
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/accepts only TLS/);
    expect(p.events.at(-1)).toMatchObject({ event_class: 'CONNECT', success: false, error_code: '28000' });
    expect(p.proxy.stats().tlsRefused).toBe(1);
  });

  it('forwards a CancelRequest carrying a key it handed out, and nothing else', async () => {
    const p = await recordedProxy({ upstream });
    const c = new pg.Client({ host: '127.0.0.1', port: p.port, user: 'postgres', password: 'postgres', database: 'postgres' });
    await c.connect();
    const sleeping = c.query('select pg_sleep(20)').catch((e: { code: string }) => e.code);
    await new Promise((r) => setTimeout(r, 300));
    const key = c as unknown as { processID: number; secretKey: number };
    const sendCancel = (pid: number, secret: number) =>
      new Promise<void>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: p.port }, () => s.write(cancelRequest(pid, secret)));
        s.on('close', () => resolve());
        s.on('error', () => resolve());
      });
    await sendCancel(key.processID, key.secretKey + 1);
    await sendCancel(key.processID, key.secretKey);
    expect(await sleeping).toBe('57014');
    await c.end();
    await p.close();
    expect(p.proxy.stats()).toMatchObject({ cancelsForwarded: 1, cancelsUnknown: 1 });
    expect(statements(p.events)).toEqual([['READ', 'SELECT', 'select pg_sleep(20)', null, false, '57014']]);
  });

  it('relays 16 concurrent pgbench clients and records every statement', async () => {
    const env = { ...process.env, PGPASSWORD: 'postgres' };
    await run('pgbench', ['-i', '-q', '-s', '1', '-h', '127.0.0.1', '-p', String(server.port), '-U', 'postgres', 'postgres'], { env });
    const p = await recordedProxy({ upstream });
    const tx = 25;
    const out = await run(
      'pgbench',
      ['-c', '16', '-j', '2', '-t', String(tx), '-M', 'prepared', '-h', '127.0.0.1', '-p', String(p.port), '-U', 'postgres', 'postgres'],
      { env },
    );
    await p.close();
    expect(out.stdout).toContain(`number of transactions actually processed: ${16 * tx}/${16 * tx}`);
    const count = (cmd: string) => p.events.filter((e) => e.command === cmd && e.success).length;
    expect(count('UPDATE')).toBe(16 * tx * 3);
    expect(count('INSERT')).toBe(16 * tx);
    expect(count('BEGIN')).toBe(16 * tx);
    expect(count('COMMIT')).toBe(16 * tx);
    expect(p.events.filter((e) => e.event_class === 'CONNECT').length).toBe(p.events.filter((e) => e.event_class === 'DISCONNECT').length);
    expect(p.events.filter((e) => !e.success)).toEqual([]);
    const update = p.events.find((e) => e.command === 'UPDATE');
    expect(update?.statement_text).toBe('UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;');
    expect(update?.parameters).toHaveLength(2);
  });

  it('relays megabytes both ways byte for byte while either side reads slowly (reused read buffers)', async () => {
    const p = await recordedProxy({ upstream });
    const c = new pg.Client({ host: '127.0.0.1', port: p.port, user: 'postgres', password: 'postgres', database: 'postgres' });
    await c.connect();
    // Client to server: a 6 MB parameter, more than the server reads at once, so the proxy's writes queue.
    const big = Array.from({ length: 200_000 }, (_, i) => `${i.toString(36)}|`)
      .join('')
      .repeat(4);
    const sent = await c.query('select md5($1::text) as h, length($1::text) as n', [big]);
    expect(sent.rows[0]).toEqual({ h: createHash('md5').update(big).digest('hex'), n: big.length });
    // Server to client: 40 MB of rows in the server's 8 kB sends, paced so the proxy reads them one by one,
    // while the client does not read for a while: a write to it stays pending as the next read comes in.
    const stream = (c as unknown as { connection: { stream: import('node:net').Socket } }).connection.stream;
    const rows = c.query(
      'select i, repeat(md5(i::text), 30) as r, case when i % 50 = 0 then pg_sleep(0.001) end as s from generate_series(1, 40000) i',
    );
    stream.pause();
    await new Promise((r) => setTimeout(r, 1000));
    stream.resume();
    const got = (await rows).rows as { i: number; r: string }[];
    expect(got).toHaveLength(40000);
    let wrong = 0;
    for (const row of got) if (row.r !== createHash('md5').update(String(row.i)).digest('hex').repeat(30)) wrong++;
    expect(wrong).toBe(0);
    await c.end();
    await p.close();
    expect(p.events.filter((e) => e.command === 'SELECT' && e.success)).toHaveLength(2);
  });

  it('records the completion of a query whose client vanished mid-query', async () => {
    const p = await recordedProxy({ upstream });
    const c = await RawClient.connect(p.port, { user: 'rawuser', database: 'postgres' });
    c.write(query('select pg_sleep(0.3)'));
    await new Promise((r) => setTimeout(r, 50));
    c.socket.destroy();
    await p.waitFor((events) => events.some((e) => e.event_class === 'DISCONNECT'));
    await p.close();
    expect(statements(p.events)).toEqual([['READ', 'SELECT', 'select pg_sleep(0.3)', 1, true, null]]);
  });

  it('answers clients with 08001 when the server is down, and 08006 when it drops them', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const downPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const down = await recordedProxy({ upstream: `127.0.0.1:${downPort}` });
    const err = await new pg.Client({ host: '127.0.0.1', port: down.port, user: 'postgres', password: 'x' }).connect().catch((e) => e);
    await down.close();
    expect(err.code).toBe('08001');
    expect(down.events).toHaveLength(1);
    expect(down.events[0]).toMatchObject({ event_class: 'CONNECT', success: false, error_code: '08001', db_user: 'postgres' });
    expect(down.proxy.stats().upstreamFailures).toBe(1);

    // A server that accepts and hangs up.
    const rude = createServer((s) => s.once('data', () => s.destroy()));
    await new Promise<void>((r) => rude.listen(0, '127.0.0.1', r));
    const dropped = await recordedProxy({ upstream: `127.0.0.1:${(rude.address() as { port: number }).port}` });
    const err2 = await new pg.Client({ host: '127.0.0.1', port: dropped.port, user: 'postgres', password: 'x' }).connect().catch((e) => e);
    await dropped.close();
    await new Promise<void>((r) => rude.close(() => r()));
    expect(err2.code).toBe('08006');
    expect(dropped.events[0]).toMatchObject({ event_class: 'CONNECT', success: false, error_code: '08006' });
  });

  it('records a session the server terminates, and cuts sessions on shutdown', async () => {
    const p = await recordedProxy({ upstream, shutdownTimeoutMs: 200 });
    const victim = new pg.Client({ host: '127.0.0.1', port: p.port, user: 'postgres', password: 'postgres' });
    victim.on('error', () => {});
    await victim.connect();
    const pid = (victim as unknown as { processID: number }).processID;
    await server.psql(`select pg_terminate_backend(${pid})`);
    await p.waitFor((events) => events.some((e) => e.event_class === 'DISCONNECT'));
    expect(p.events.slice(1).map((e) => [e.event_class, e.error_code, e.success])).toEqual([
      ['ERROR', '57P01', false],
      ['DISCONNECT', '57P01', false],
    ]);

    const idle = new pg.Client({ host: '127.0.0.1', port: p.port, user: 'postgres', password: 'postgres' });
    const idleError = new Promise((resolve) => idle.on('error', (e) => resolve((e as Error & { code?: string }).code)));
    await idle.connect();
    await p.close();
    expect(await idleError).toBe('57P01');
    expect(p.events.at(-1)).toMatchObject({ event_class: 'DISCONNECT', success: false, error_code: '57P01' });
    expect(p.proxy.stats().activeSessions).toBe(0);
  });
});
