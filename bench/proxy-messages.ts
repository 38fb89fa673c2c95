/**
 * The recorder's reading of the two messages an extended-protocol statement is made of, alone, CPU ns per
 * message (a pgbench -S Bind or Parse copied into a reused read buffer, as the proxy reads it):
 * - Bind: `parseBind` + `recordParameters` + `parameterExtras` (before), `readBind` in one pass (the
 *   recorder's), and a lazy reading (checked at Bind, body copied because read buffers are reused, values
 *   decoded when the event is built), plus the floor (copy into the buffer and a view, nothing read);
 * - Parse: `parseParse` + redaction of the text per message (before), and the recorder's reuse of the last
 *   Parse's reading when its bytes repeat, with the redaction of a repeated text.
 *
 *   npx tsx bench/proxy-messages.ts [--messages 2000000] [--rounds 5]
 */
import { parseBind, parseParse } from '../src/proxy/frontend-messages.js';
import { parameterExtras, readBind, recordParameters } from '../src/proxy/parameters.js';
import { createSqlRedactor, type RedactedStatement } from '../src/redact/index.js';

const argText = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const n = Number(argText('messages', '2000000'));
const rounds = Number(argText('rounds', '5'));

const int32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const cstr = (s: string) => Buffer.from(`${s}\0`);
// libpq's Bind for pgbench -S: unnamed portal and statement, no format codes, one text value, one result format.
const binds = Array.from({ length: 1024 }, (_, i) => {
  const v = Buffer.from(String(1 + ((i * 7919) % 100000)));
  return Buffer.concat([cstr(''), cstr(''), Buffer.from([0, 0, 0, 1]), int32(v.length), v, Buffer.from([0, 1, 0, 0])]);
});
const parseBody = Buffer.concat([cstr(''), cstr('SELECT abalance FROM pgbench_accounts WHERE aid = $1;'), Buffer.from([0, 0])]);
const readBuffer = Buffer.allocUnsafeSlow(64 * 1024);
const types: number[] = [];
const typesOf = () => types;
const redactor = createSqlRedactor();
let sink = 0;

/** Copies a body into the read buffer and returns the view the frame parser would hand out. */
function read(body: Buffer): Buffer {
  body.copy(readBuffer);
  return readBuffer.subarray(0, body.length);
}

let lastParse: { bytes: Buffer; message: ReturnType<typeof parseParse> } | null = null;
let lastRedacted: { from: string; result: RedactedStatement } | null = null;

const cases: Record<string, (i: number) => void> = {
  'Bind: floor (copy, view)': (i) => {
    sink += read(binds[i & 1023]).length;
  },
  'Bind: parseBind + recordParameters (before)': (i) => {
    const rec = recordParameters(parseBind(read(binds[i & 1023])), types);
    sink += rec.values.length + (parameterExtras(rec) ? 1 : 0);
  },
  'Bind: readBind, one pass (kept)': (i) => {
    const m = readBind(read(binds[i & 1023]), typesOf, true);
    sink += (m.values as string[]).length + (m.extras ? 1 : 0);
  },
  'Bind: lazy (check, copy, decode at the event)': (i) => {
    const body = read(binds[i & 1023]);
    readBind(body, typesOf, false);
    const kept = Buffer.from(body);
    sink += (readBind(kept, typesOf, true).values as string[]).length;
  },
  'Parse: parseParse + redaction (before)': () => {
    sink += redactor.statement(parseParse(read(parseBody)).text).text.length;
  },
  'Parse: repeated Parse and text reused (kept)': () => {
    const body = read(parseBody);
    let m: ReturnType<typeof parseParse>;
    if (lastParse !== null && body.equals(lastParse.bytes)) m = lastParse.message;
    else {
      m = parseParse(body);
      lastParse = { bytes: Buffer.from(body), message: m };
    }
    let r: RedactedStatement;
    if (lastRedacted !== null && lastRedacted.from === m.text) r = lastRedacted.result;
    else {
      r = redactor.statement(m.text);
      lastRedacted = { from: m.text, result: r };
    }
    sink += r.text.length;
  },
};

const results = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of Object.entries(cases)) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) run(i);
    const c = process.cpuUsage(c0);
    results.set(name, [...(results.get(name) ?? []), ((c.user + c.system) * 1000) / n]);
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`CPU ns per message, ${n} per run, median of ${rounds} rounds (checksum ${sink % 10})`);
for (const [name, ns] of results) console.log(`${name.padEnd(48)} ${median(ns).toFixed(0).padStart(5)} ns`);
