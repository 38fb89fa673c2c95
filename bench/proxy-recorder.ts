/**
 * The proxy's own JavaScript per transaction, without sockets: the bytes of a `pgbench -S` transaction
 * (client side and server side, as one read each, in a reused read buffer as the proxy reads them) fed
 * through the two frame parsers and the session recorder into the proxy's event queue. This is the
 * framing and recording part of the proxy's CPU, measured without the kernel and the machine's load in it.
 *
 *   npx tsx bench/proxy-recorder.ts [--transactions 200000] [--rounds 5] [--base <checkout>]
 *
 * `--base` runs the same against another checkout (`git archive <rev> | tar -x -C <dir>`, node_modules
 * linked), alternating with this one every round, and prints the ratio per mode.
 */
import { join } from 'node:path';
import { clockMicros } from '../src/proxy/session-events.js';
import { describe, execute, message, parse, query, startupMessage, sync } from '../test/proxy/wire.js';

const argText = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const transactions = Number(argText('transactions', '200000'));
const rounds = Number(argText('rounds', '5'));
const baseRoot = argText('base', '');
const root = join(import.meta.dirname, '..');

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const cstr = (s: string) => Buffer.from(`${s}\0`);
const SELECT = 'SELECT abalance FROM pgbench_accounts WHERE aid = ';
const rowDescription = message(
  'T',
  Buffer.concat([
    Buffer.from([0, 1]),
    cstr('abalance'),
    int32(16397),
    Buffer.from([0, 3]),
    int32(23),
    Buffer.from([0, 4, 0xff, 0xff, 0xff, 0xff, 0, 0]),
  ]),
);
const dataRow = message('D', Buffer.concat([Buffer.from([0, 1]), int32(1), Buffer.from('0')]));
const selectDone = Buffer.concat([message('C', cstr('SELECT 1')), message('Z', Buffer.from('I'))]);

/** One transaction's reads, as pgbench -S sends it and PostgreSQL answers (libpq's PQsendQueryParams for extended). */
function transaction(mode: 'simple' | 'extended', aid: number): { client: Buffer; server: Buffer } {
  if (mode === 'simple') {
    return { client: query(`${SELECT}${aid};`), server: Buffer.concat([rowDescription, dataRow, selectDone]) };
  }
  const value = Buffer.from(String(aid));
  // libpq's Bind: no parameter format codes (all text), one value, one result format code (text).
  const bindBody = Buffer.concat([cstr(''), cstr(''), Buffer.from([0, 0, 0, 1]), int32(value.length), value, Buffer.from([0, 1, 0, 0])]);
  const client = Buffer.concat([parse('', `${SELECT}$1;`), message('B', bindBody), describe('P', ''), execute('', 0), sync()]);
  return { client, server: Buffer.concat([message('1'), message('2'), rowDescription, dataRow, selectDone]) };
}

interface Modules {
  FrameParser: typeof import('../src/proxy/frame-parser.js').FrameParser;
  ByteBudget: typeof import('../src/proxy/frame-parser.js').ByteBudget;
  SessionRecorder: typeof import('../src/proxy/session-recorder.js').SessionRecorder;
  RECORDED_FRONTEND: number[];
  RECORDED_BACKEND: number[];
  /** Absent in checkouts from before bodiless messages. */
  BODILESS_FRONTEND?: number[];
  BODILESS_BACKEND?: number[];
  BatchQueue: typeof import('../src/proxy/event-queue.js').BatchQueue;
  createSqlRedactor: typeof import('../src/redact/index.js').createSqlRedactor;
}

async function load(dir: string): Promise<Modules> {
  const fp = await import(join(dir, 'src/proxy/frame-parser.ts'));
  const sr = await import(join(dir, 'src/proxy/session-recorder.ts'));
  const eq = await import(join(dir, 'src/proxy/event-queue.ts'));
  const rd = await import(join(dir, 'src/redact/index.ts'));
  return { ...fp, ...sr, ...eq, ...rd };
}

/** Runs `n` transactions through one session; returns CPU ns per transaction (this process's, so the machine's load counts less) and the statements recorded. */
async function measure(m: Modules, mode: 'simple' | 'extended', n: number): Promise<{ ns: number; statements: number }> {
  const queue = new m.BatchQueue({ capacity: 1 << 30, flushSize: 5000, flushAgeMs: 1000, onOverflow: 'drop' });
  let statements = 0;
  const consumer = (async () => {
    for await (const batch of queue) statements += batch.events.filter((e) => e.command === 'SELECT').length;
  })();
  const budget = new m.ByteBudget(1 << 28);
  const opts = { maxBody: 1 << 20, budget };
  let recorder: InstanceType<Modules['SessionRecorder']>;
  const fparser = new m.FrameParser((code, body) => recorder.frontend(code, body), {
    startup: true,
    wanted: m.RECORDED_FRONTEND,
    bodiless: m.BODILESS_FRONTEND,
    ...opts,
  });
  const bparser = new m.FrameParser((code, body) => recorder.backend(code, body), {
    wanted: m.RECORDED_BACKEND,
    bodiless: m.BODILESS_BACKEND,
    ...opts,
  });
  const info = {
    sessionId: 's',
    key: 'k',
    refPrefix: 'proxy:bench/s',
    clientAddr: '127.0.0.1',
    clientPort: 5000,
    serverHost: '127.0.0.1:5432',
    startMicros: 0,
    clientTls: false,
  };
  recorder = new m.SessionRecorder(info, queue, () => fparser.messages, { redactor: m.createSqlRedactor(), recordParameters: true });
  const startup = startupMessage({ user: 'postgres', database: 'postgres' });
  fparser.feed(startup);
  recorder.startup({ user: 'postgres', database: 'postgres' }, false);
  bparser.feed(Buffer.concat([message('R', int32(0)), message('K', Buffer.concat([int32(42), int32(7)])), message('Z', Buffer.from('I'))]));
  // Distinct aids, cycled: the bytes vary as pgbench's do.
  const txs = Array.from({ length: 1024 }, (_, i) => transaction(mode, 1 + ((i * 7919) % 100000)));
  const chunkTimes = 'chunkTime' in recorder;
  const clientBuf = Buffer.allocUnsafeSlow(64 * 1024);
  const serverBuf = Buffer.allocUnsafeSlow(64 * 1024);
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const tx = txs[i & 1023];
    // As the session does around each read, where the recorder takes the read's time.
    if (chunkTimes) recorder.chunkTime = clockMicros();
    tx.client.copy(clientBuf);
    fparser.feed(clientBuf.subarray(0, tx.client.length));
    if (chunkTimes) recorder.chunkTime = clockMicros();
    tx.server.copy(serverBuf);
    bparser.feed(serverBuf.subarray(0, tx.server.length));
    recorder.chunkTime = 0;
    if ((i & 4095) === 4095) await new Promise((r) => setImmediate(r)); // let the consumer take batches
  }
  const c = process.cpuUsage(c0);
  const ns = ((c.user + c.system) * 1000) / n;
  recorder.end(null);
  queue.close();
  await consumer;
  return { ns, statements };
}

const targets: [string, Modules][] = [['this', await load(root)]];
if (baseRoot) targets.push(['base', await load(baseRoot)]);
const results = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  for (const mode of ['simple', 'extended'] as const) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const [name, m] of order) {
      const r = await measure(m, mode, transactions);
      if (r.statements !== transactions) throw new Error(`${name} ${mode}: ${r.statements} statements recorded of ${transactions}`);
      const key = `${mode} ${name}`;
      results.set(key, [...(results.get(key) ?? []), r.ns]);
      console.error(`  round ${round + 1} ${key}: ${(r.ns / 1000).toFixed(2)} µs/tx`);
    }
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`framing + recording, CPU per pgbench -S transaction, ${transactions} per run, median of ${rounds} rounds`);
for (const mode of ['simple', 'extended']) {
  const mine = median(results.get(`${mode} this`) ?? []);
  let line = `${mode.padEnd(8)} this: ${(mine / 1000).toFixed(2)} µs/tx`;
  if (baseRoot) {
    const base = median(results.get(`${mode} base`) ?? []);
    line += `, base: ${(base / 1000).toFixed(2)} µs/tx, this/base ${(mine / base).toFixed(2)}x`;
  }
  console.log(line);
}
