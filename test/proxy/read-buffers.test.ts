import { connect, createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { recordedProxy } from './helpers.js';
import { message, query, startupMessage } from './wire.js';

/**
 * The proxy reads each socket into one reused buffer. A write the other socket has not finished still
 * refers to those bytes, so the next read must go elsewhere. Here a server sends 60 MB (more than loopback's socket buffers hold) of DataRows in small
 * paced writes (so the proxy reads them a few kB at a time) to a client that does not read for a while:
 * writes to it stay pending, below the stream's high-water mark, while reads go on.
 */

const ROWS = 60_000;

function dataRow(i: number): Buffer {
  const value = Buffer.alloc(1000, `${i.toString(36)}-`);
  const body = Buffer.alloc(2 + 4 + value.length);
  body.writeInt16BE(1, 0);
  body.writeInt32BE(value.length, 2);
  value.copy(body, 6);
  return message('D', body);
}

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const ready = () => message('Z', Buffer.from('I'));

describe('reused read buffers', () => {
  it('relay every byte unchanged while the receiving side does not read', async () => {
    const rows = Array.from({ length: ROWS }, (_, i) => dataRow(i));
    const answer = Buffer.concat([...rows, message('C', Buffer.from('SELECT 60000\0')), ready()]);
    const fake = createServer((s: Socket) => {
      let started = false;
      s.on('data', async () => {
        if (!started) {
          started = true;
          s.write(Buffer.concat([message('R', int32(0)), ready()]));
          return;
        }
        for (let i = 0; i < ROWS; i++) {
          s.write(rows[i]);
          if (i % 8 === 7) await new Promise((r) => setImmediate(r));
        }
        s.write(Buffer.concat([message('C', Buffer.from('SELECT 60000\0')), ready()]));
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const p = await recordedProxy({ upstream: `127.0.0.1:${(fake.address() as { port: number }).port}` });
    const client = connect({ host: '127.0.0.1', port: p.port });
    const chunks: Buffer[] = [];
    let total = 0;
    let onData: (() => void) | null = null;
    client.on('data', (c: Buffer) => {
      chunks.push(c);
      total += c.length;
      onData?.();
    });
    const until = (n: number) =>
      new Promise<void>((resolve) => {
        onData = () => total >= n && resolve();
        onData();
      });
    client.write(startupMessage({ user: 'u', database: 'd' }));
    const handshake = message('R', int32(0)).length + ready().length;
    await until(handshake);
    client.pause();
    client.write(query('select rows'));
    await new Promise((r) => setTimeout(r, 3000));
    client.resume();
    await until(handshake + answer.length);
    const got = Buffer.concat(chunks).subarray(handshake);
    let firstBad = -1;
    for (let i = 0; i < answer.length && firstBad < 0; i++) if (got[i] !== answer[i]) firstBad = i;
    expect(firstBad).toBe(-1);
    expect(got.length).toBe(answer.length);
    client.end();
    await p.close();
    fake.close();
    expect(p.events.find((e) => e.command === 'SELECT')?.row_count).toBe(ROWS);
  }, 60_000);
});
