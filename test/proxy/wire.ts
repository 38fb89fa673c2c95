/**
 * Builds PostgreSQL protocol messages as bytes, for tests: the frame parser's input, and a minimal raw
 * client that can pipeline (node-postgres waits for each query's ReadyForQuery before sending the next).
 */
import { connect, type Socket } from 'node:net';

/** A typed message: type letter, int32 length, body. */
export function message(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

export const cstr = (s: string) => Buffer.from(`${s}\0`, 'utf8');
/** A 16-bit field: counts are unsigned on the wire (up to 65,535), format codes small. */
export const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
};
/** A 32-bit field; values past its range wrap, so a test can send a malformed one. */
export const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
};

/** An untyped startup packet: int32 length, then the body. */
export function untyped(body: Buffer): Buffer {
  return Buffer.concat([int32(body.length + 4), body]);
}

export const sslRequest = () => untyped(int32(80877103));
export const cancelRequest = (pid: number, secret: number) => untyped(Buffer.concat([int32(80877102), int32(pid), int32(secret)]));
export function startupMessage(params: Record<string, string>): Buffer {
  const pairs = Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]);
  return untyped(Buffer.concat([int32(196608), ...pairs, Buffer.from([0])]));
}

export const query = (text: string) => message('Q', cstr(text));
export const parse = (name: string, text: string, types: number[] = []) =>
  message('P', Buffer.concat([cstr(name), cstr(text), int16(types.length), ...types.map(int32)]));
/** Bind with one format code per value: strings go as text, Buffers as binary, null as NULL. */
export function bind(portal: string, statement: string, values: (string | Buffer | null)[]): Buffer {
  const formats = values.map((v) => (Buffer.isBuffer(v) ? 1 : 0));
  const vals = values.map((v) => {
    if (v === null) return int32(-1);
    const b = Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
    return Buffer.concat([int32(b.length), b]);
  });
  return message(
    'B',
    Buffer.concat([cstr(portal), cstr(statement), int16(formats.length), ...formats.map(int16), int16(values.length), ...vals, int16(0)]),
  );
}
export const execute = (portal = '', maxRows = 0) => message('E', Buffer.concat([cstr(portal), int32(maxRows)]));
export const describe = (kind: 'S' | 'P', name: string) => message('D', Buffer.concat([Buffer.from(kind), cstr(name)]));
export const sync = () => message('S');
export const terminate = () => message('X');

/** A server message as the raw client reads it. */
export interface ServerMessage {
  type: string;
  body: Buffer;
}

/** A bare protocol client over TCP for roles that need no password (trust). */
export class RawClient {
  private buffer = Buffer.alloc(0);
  private readonly received: ServerMessage[] = [];
  private waiter: (() => void) | null = null;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 5) {
        const len = this.buffer.readInt32BE(1);
        if (this.buffer.length < len + 1) break;
        this.received.push({ type: String.fromCharCode(this.buffer[0]), body: this.buffer.subarray(5, len + 1) });
        this.buffer = this.buffer.subarray(len + 1);
      }
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  /** Connects and completes the startup exchange (trust authentication). */
  static async connect(port: number, params: Record<string, string>): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new RawClient(socket);
    socket.write(startupMessage(params));
    await client.readUntil(1);
    return client;
  }

  /** Messages until the `n`th ReadyForQuery (included) from now. */
  async readUntil(n: number): Promise<ServerMessage[]> {
    const out: ServerMessage[] = [];
    let seen = 0;
    while (seen < n) {
      const m = this.received.shift();
      if (m) {
        out.push(m);
        if (m.type === 'Z') seen++;
        if (m.type === 'E' && seen === 0 && out.length === 1 && m.body.includes(Buffer.from('FATAL'))) return out;
        continue;
      }
      if (this.closed) return out;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
      this.waiter = null;
    }
    return out;
  }

  write(...messages: Buffer[]): void {
    this.socket.write(Buffer.concat(messages));
  }

  async end(): Promise<void> {
    if (this.closed) return;
    this.socket.end(terminate());
    await new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
  }
}

/** SQLSTATE of an ErrorResponse body. */
export function sqlstate(body: Buffer): string | null {
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const end = body.indexOf(0, i + 1);
    if (body[i] === 0x43) return body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return null;
}
