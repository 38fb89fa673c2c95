import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { directWritesAvailable, SocketWriter } from '../../src/proxy/socket-writer.js';

/**
 * Writes below the stream layer: a peer that does not read fills the kernel's buffers, so a write is taken
 * only in part and the rest waits in libuv's queue, pointing into the caller's buffer. The writer must say
 * so (`holding`), stop the caller (`write` false), call back once written, and report errors as the stream does.
 */

const CHUNK = 64 * 1024;
let server: Server | null = null;

async function pair(): Promise<{ local: Socket; peer: Socket }> {
  let accept: (s: Socket) => void = () => {};
  const accepted = new Promise<Socket>((resolve) => {
    accept = resolve;
  });
  const listening = createServer((s) => accept(s));
  server = listening;
  await new Promise<void>((r) => listening.listen(0, '127.0.0.1', r));
  const local = connect({ host: '127.0.0.1', port: (listening.address() as { port: number }).port });
  await once(local, 'connect');
  const peer = await accepted;
  peer.pause();
  return { local, peer };
}

afterEach(() => {
  server?.close();
  server = null;
});

describe('SocketWriter', () => {
  it('is available in this runtime', () => {
    expect(directWritesAvailable).toBe(true);
  });

  it('relays every byte while the peer does not read, reusing the buffer only when nothing holds it', async () => {
    const { local, peer } = await pair();
    let written: (() => void) | null = null;
    const writer = new SocketWriter(local, () => written?.());
    const chunks = 400; // 25 MiB: more than loopback's socket buffers
    let held = 0;
    let fresh = 0;
    const received: Buffer[] = [];
    peer.on('data', (c: Buffer) => received.push(c));
    setTimeout(() => peer.resume(), 500);
    let buf = Buffer.allocUnsafeSlow(CHUNK);
    for (let i = 0; i < chunks; i++) {
      buf.fill(i & 0xff);
      const ok = writer.write(buf);
      if (writer.holding) {
        buf = Buffer.allocUnsafeSlow(CHUNK); // as the session does: the held bytes stay as they are
        fresh++;
      } else {
        buf.fill(0xee); // the kernel has these bytes: scribbling over them must not show at the peer
      }
      if (!ok) {
        held++;
        expect(local.writableLength).toBe(0); // it went below the stream
        await new Promise<void>((r) => {
          written = r;
        });
      }
    }
    local.end();
    await once(peer, 'end');
    const all = Buffer.concat(received);
    expect(all.length).toBe(chunks * CHUNK);
    let bad = -1;
    for (let i = 0; i < chunks && bad < 0; i++) {
      for (let j = i * CHUNK; j < (i + 1) * CHUNK; j += 997) if (all[j] !== (i & 0xff)) bad = j;
    }
    expect(bad).toBe(-1);
    expect(held).toBeGreaterThan(0);
    expect(fresh).toBe(held);
    peer.destroy();
  }, 30_000);

  it('keeps the order of a queued direct write and a stream write after it', async () => {
    const { local, peer } = await pair();
    let written = false;
    const writer = new SocketWriter(local, () => {
      written = true;
    });
    const received: Buffer[] = [];
    peer.on('data', (c: Buffer) => received.push(c));
    let n = 0;
    while (writer.write(Buffer.alloc(CHUNK, n & 0xff))) n++;
    n++;
    // Queued below the stream: these go through socket.write, behind it in libuv's queue.
    for (let i = 0; i < 4; i++, n++) writer.write(Buffer.alloc(CHUNK, n & 0xff));
    peer.resume();
    local.end();
    await once(peer, 'end');
    expect(written).toBe(true);
    const all = Buffer.concat(received);
    expect(all.length).toBe(n * CHUNK);
    for (let i = 0; i < n; i++) expect(all[i * CHUNK + 1]).toBe(i & 0xff);
    peer.destroy();
  }, 30_000);

  it('ends the socket with an error when the peer resets it under a queued write', async () => {
    const { local, peer } = await pair();
    let written = 0;
    const writer = new SocketWriter(local, () => written++);
    const errors: string[] = [];
    local.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? ''));
    const closed = new Promise((r) => local.once('close', r));
    while (writer.write(Buffer.alloc(CHUNK, 1))) {}
    expect(writer.holding).toBe(true);
    peer.resetAndDestroy();
    await closed;
    expect(errors).toEqual(['ECONNRESET']);
    expect(written).toBe(0);
    expect(writer.holding).toBe(false);
  }, 30_000);

  it('sends TLS sockets and disabled writers through the stream', async () => {
    const { local, peer } = await pair();
    const writer = new SocketWriter(local, () => {}, false);
    while (writer.write(Buffer.alloc(CHUNK, 1))) {}
    expect(local.writableLength).toBeGreaterThan(0);
    local.destroy();
    peer.destroy();
  });
});
