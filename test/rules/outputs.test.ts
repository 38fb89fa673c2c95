import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/rules/alert-schema.js';
import { createJsonlSink } from '../../src/rules/outputs/jsonl.js';
import { createSnsSink } from '../../src/rules/outputs/sns.js';
import { createWebhookSink } from '../../src/rules/outputs/webhook.js';

function alert(n: number): Alert {
  const t = Date.UTC(2024, 4, 6, 10, 0, n) * 1000 + 123456;
  return {
    alert_id: n.toString(16).padStart(32, '0'),
    rule_id: 'auth-brute-force',
    severity: 'high',
    title: 'Password guessing',
    description: 'Someone is guessing passwords.',
    tags: ['authentication'],
    alert_time: t,
    window_start: t - 600_000_000,
    window_end: t,
    group_key: `db_user=u${n}`,
    event_count: 5,
    event_ids: ['a', 'b', 'c', 'd', 'e'],
    details: '{"kind":"threshold"}',
    origin: 'stream',
    superseded: false,
  };
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (chunk) => {
      text += chunk;
    });
    req.on('end', () => resolve(text));
  });
}

let server: Server | null = null;
async function listen(handler: (req: IncomingMessage, text: string) => { status: number; body?: string; type?: string }): Promise<string> {
  server = createServer(async (req, res) => {
    const reply = handler(req, await body(req));
    res.writeHead(reply.status, { 'content-type': reply.type ?? 'text/plain' });
    res.end(reply.body ?? '');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = null;
});

describe('JSONL sink', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auditlake-jsonl-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('appends one JSON alert per line with ISO timestamps', async () => {
    const file = join(dir, 'alerts.jsonl');
    const sink = createJsonlSink({ path: file });
    await sink.write([alert(1), alert(2)]);
    await sink.write([]);
    await sink.close();
    const lines = (await readFile(file, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      alert_time: '2024-05-06T10:00:01.123456Z',
      window_start: '2024-05-06T09:50:01.123456Z',
      event_date: '2024-05-06',
      group_key: 'db_user=u1',
    });
  });
});

describe('webhook sink', () => {
  it('retries 5xx with backoff and delivers once the server recovers', async () => {
    const received: unknown[] = [];
    let calls = 0;
    const url = await listen((_req, text) => {
      calls++;
      if (calls <= 2) return { status: 503 };
      received.push(JSON.parse(text));
      return { status: 200, body: 'ok' };
    });
    const sink = createWebhookSink({ url, retry: { baseDelayMs: 5 } });
    await sink.write([alert(1), alert(2)]);
    expect(calls).toBe(3);
    expect(received).toHaveLength(1);
    const message = received[0] as { text: string; blocks: { type: string }[] };
    expect(message.text).toBe('2 alerts: [HIGH] Password guessing (db_user=u1); [HIGH] Password guessing (db_user=u2)');
    expect(message.blocks.map((b) => b.type)).toEqual(['section', 'context', 'section', 'context']);
  });

  it('does not retry a 4xx and reports it', async () => {
    let calls = 0;
    const url = await listen(() => {
      calls++;
      return { status: 404 };
    });
    await expect(createWebhookSink({ url, retry: { baseDelayMs: 1 } }).write([alert(1)])).rejects.toThrow('webhook answered HTTP 404');
    expect(calls).toBe(1);
  });

  it('gives up after the configured attempts', async () => {
    let calls = 0;
    const url = await listen(() => {
      calls++;
      return { status: 500 };
    });
    await expect(createWebhookSink({ url, retry: { attempts: 3, baseDelayMs: 1 } }).write([alert(1)])).rejects.toThrow('HTTP 500');
    expect(calls).toBe(3);
  });
});

describe('SNS sink', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('publishes in batches of 10 through AWS_ENDPOINT_URL_SNS and retries entries SNS reports failed', async () => {
    const delivered = new Map<string, number>();
    let requests = 0;
    let failedOnce = false;
    const url = await listen((_req, text) => {
      requests++;
      // SNS Query protocol: form-encoded request, XML response.
      const form = new URLSearchParams(text);
      expect(form.get('Action')).toBe('PublishBatch');
      expect(form.get('TopicArn')).toBe('arn:aws:sns:eu-west-1:123456789012:alerts');
      const ok: string[] = [];
      const failed: string[] = [];
      for (let i = 1; form.has(`PublishBatchRequestEntries.member.${i}.Id`); i++) {
        const id = form.get(`PublishBatchRequestEntries.member.${i}.Id`) as string;
        const message = JSON.parse(form.get(`PublishBatchRequestEntries.member.${i}.Message`) as string);
        expect(form.get(`PublishBatchRequestEntries.member.${i}.MessageAttributes.entry.1.Name`)).toBe('severity');
        if (id === '3' && !failedOnce) {
          failedOnce = true;
          failed.push(id);
          continue;
        }
        delivered.set(message.alert_id, (delivered.get(message.alert_id) ?? 0) + 1);
        ok.push(id);
      }
      const members = (ids: string[], extra: string) => ids.map((id) => `<member><Id>${id}</Id>${extra}</member>`).join('');
      return {
        status: 200,
        type: 'text/xml',
        body: `<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult><Successful>${members(ok, '<MessageId>m</MessageId>')}</Successful><Failed>${members(failed, '<Code>InternalError</Code><Message>try again</Message><SenderFault>false</SenderFault>')}</Failed></PublishBatchResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishBatchResponse>`,
      };
    });
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SNS: url,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    const sink = createSnsSink({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts', retry: { baseDelayMs: 1 } });
    const alerts = Array.from({ length: 23 }, (_, i) => alert(i));
    await sink.write(alerts);
    await sink.close();
    expect(requests).toBe(4); // 10 + 10 + 3, and one retry of the failed entry
    expect([...delivered.keys()].sort()).toEqual(alerts.map((a) => a.alert_id).sort());
    expect([...delivered.values()].every((n) => n === 1)).toBe(true);
  });
});
