import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openProxyEventsWriter, proxyEventJsonSchema, proxyEventsCollector, teeToJsonl } from '../../src/collectors/proxy-events/index.js';
import { BatchQueue, DROPPED_REASON } from '../../src/proxy/event-queue.js';
import { buildEvent, type SessionInfo } from '../../src/proxy/session-events.js';
import { type AuditEvent, type Batch, idKey } from '../../src/schema/index.js';

const info: SessionInfo = {
  sessionId: '6650a1b2.1',
  key: idKey('proxy', 'test', '6650a1b2.1'),
  refPrefix: 'proxy:test/6650a1b2.1',
  clientAddr: '127.0.0.1',
  clientPort: 5000,
  serverHost: '127.0.0.1:5432',
  startMicros: 1_714_558_502_123_456,
  clientTls: false,
};
const who = { user: 'alice', database: 'shop', applicationName: 'app', processId: 42 };

function sample(n: number): AuditEvent {
  const time = info.startMicros + n * 1001;
  return buildEvent(
    info,
    who,
    n,
    {
      eventClass: 'READ',
      time,
      ref: `${info.refPrefix}:${n}`,
      success: true,
      command: 'SELECT',
      text: `select ${n}`,
      parameters: ['a', 'b"c'],
      rows: 1,
    },
    time,
  );
}

async function* bytesOf(text: string, chunk = 7): AsyncIterable<Buffer> {
  const b = Buffer.from(text, 'utf8');
  for (let i = 0; i < b.length; i += chunk) yield b.subarray(i, i + chunk);
}

async function collect(text: string, name = 'events.jsonl'): Promise<Batch[]> {
  const out: Batch[] = [];
  const ctx = { ingestTime: 1_800_000_000_000_000, batchSize: 2, options: {} };
  for await (const b of proxyEventsCollector.collect({ name, bytes: bytesOf(text), key: 'k' }, 'proxy', ctx)) out.push(b);
  return out;
}

describe('proxy events format', () => {
  it('round-trips events through rotated JSONL files and the collector', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'auditlake-proxy-events-'));
    try {
      const writer = await openProxyEventsWriter({ dir, maxBytes: 1500 });
      const batches: Batch[] = [0, 1, 2].map((i) => ({
        events: [sample(2 * i), sample(2 * i + 1)],
        rejected: [],
        skipped: {},
        records: 2,
      }));
      async function* source() {
        yield* batches;
      }
      for await (const _ of teeToJsonl(source(), writer)) {
        // passed through unchanged
      }
      const files = (await readdir(dir)).sort();
      expect(files.length).toBeGreaterThan(1);
      expect(files.every((f) => f.endsWith('.jsonl'))).toBe(true);
      const text = files.map((f) => readFileSync(join(dir, f), 'utf8')).join('');
      const back = (await collect(text)).flatMap((b) => b.events);
      const expected = batches.flatMap((b) => b.events).map((e) => ({ ...e, ingest_time: 1_800_000_000_000_000 }));
      expect(back).toEqual(expected);
      expect(proxyEventsCollector.detect(text.slice(0, 1000))).toBe('proxy');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('quarantines bad lines with their line number and reason, and counts blank lines', async () => {
    const good = JSON.stringify({
      ...JSON.parse(JSON.stringify(sample(0))),
      event_time: '2024-05-01T10:15:02.123456Z',
      ingest_time: '2024-05-01T10:15:02.123456Z',
      event_date: '2024-05-01',
    });
    const noTime = good.replace('"event_time":"2024-05-01T10:15:02.123456Z"', '"event_time":"yesterday"');
    const pgaudit = good.replace('"source":"proxy"', '"source":"pgaudit"');
    const extra = good.replace('"audit_type":null', '"audit_type":null,"color":"red"');
    const text = [good, '', '{not json', noTime, pgaudit, extra, '[1]', good.replace('"success":true', '"success":"yes"')].join('\r\n');
    const batches = await collect(text);
    expect(batches.reduce((n, b) => n + b.records, 0)).toBe(8);
    expect(batches.flatMap((b) => b.events)).toHaveLength(1);
    expect(Object.assign({}, ...batches.map((b) => b.skipped))).toEqual({ 'blank line': 1 });
    const rejected = batches.flatMap((b) => b.rejected).map((r) => [r.source_ref, r.reason.split(':')[0]]);
    expect(rejected).toEqual([
      ['events.jsonl:3', 'invalid JSON'],
      ['events.jsonl:4', 'event_time is not an ISO-8601 timestamp'],
      ['events.jsonl:5', 'not a proxy event (source "pgaudit", source_format "proxy")'],
      ['events.jsonl:6', 'unknown field color'],
      ['events.jsonl:7', 'not a JSON object'],
      ['events.jsonl:8', '✖ Invalid input'],
    ]);
  });

  it('matches the checked-in JSON Schema', () => {
    const file = JSON.parse(readFileSync(new URL('../../schemas/proxy-event.v1.json', import.meta.url), 'utf8'));
    expect(file).toEqual(proxyEventJsonSchema());
  });
});

describe('BatchQueue', () => {
  it('cuts batches by size and asks the proxy to stop reading when full (block)', async () => {
    const queue = new BatchQueue({ capacity: 4, flushSize: 2, flushAgeMs: 10_000, onOverflow: 'block' });
    const pressure: boolean[] = [];
    queue.onPressure = (full) => pressure.push(full);
    for (let i = 0; i < 6; i++) queue.push(sample(i));
    expect(pressure).toEqual([true]);
    queue.close();
    const sizes: number[] = [];
    for await (const b of queue) sizes.push(b.events.length);
    expect(sizes).toEqual([2, 2, 2]);
    expect(pressure).toEqual([true, false]);
    expect(queue.stats()).toMatchObject({ events: 6, dropped: 0, batches: 3, buffered: 0, blocked: 1 });
  });

  it('drops and counts events over capacity (drop), and flushes by age', async () => {
    const queue = new BatchQueue({ capacity: 3, flushSize: 100, flushAgeMs: 20, onOverflow: 'drop' });
    for (let i = 0; i < 5; i++) queue.push(sample(i));
    const it = queue[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value.events).toHaveLength(3);
    expect(first.value.skipped).toEqual({ [DROPPED_REASON]: 2 });
    expect(queue.stats().dropped).toBe(2);
    queue.close();
    expect((await it.next()).done).toBe(true);
  });
});
