/**
 * The floor of the proxy's own I/O design: both sockets read into one reused buffer each (`onread`) and
 * every chunk written through the handle (`SocketWriter`), exactly as `ClientSession` relays, but nothing
 * parsed or recorded. The proxy's CPU per transaction minus this relay's is what framing and recording
 * cost; this relay's minus pgbouncer's is what Node's I/O path costs. Prints `{"port": N}` once listening,
 * like `proxy-child.ts`.
 */
import { connect, createServer, type OnReadOpts, Socket, type SocketConstructorOpts } from 'node:net';
import { SocketWriter } from '../src/proxy/socket-writer.js';

const READ_BUFFER_BYTES = 64 * 1024;
const [host, port] = (process.argv[2] ?? '').split(':');

/** One direction's reused read buffer, given up while the other socket's writer still holds its bytes. */
function reader(onChunk: (chunk: Buffer) => void, writer: () => SocketWriter | null): OnReadOpts {
  let buffer: Buffer | null = null;
  return {
    buffer: () => {
      buffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
      return buffer;
    },
    callback: (nread, bytes) => {
      onChunk((bytes as Buffer).subarray(0, nread));
      if (writer()?.holding) buffer = null;
      return true;
    },
  };
}

const server = createServer({ noDelay: true, pauseOnConnect: true }, (accepted) => {
  let toServer: SocketWriter | null = null;
  let toClient: SocketWriter | null = null;
  const shell = accepted as unknown as { _handle: object | null };
  const client = new Socket({
    handle: shell._handle,
    onread: reader(
      (chunk) => {
        if (toServer && !toServer.write(chunk)) client.pause();
      },
      () => toServer,
    ),
  } as SocketConstructorOpts);
  shell._handle = null;
  accepted.destroy();
  client.setNoDelay(true);
  client.pause(); // until the server side is connected
  const upstream = connect({
    host,
    port: Number(port),
    noDelay: true,
    onread: reader(
      (chunk) => {
        if (toClient && !toClient.write(chunk)) upstream.pause();
      },
      () => toClient,
    ),
  });
  toClient = new SocketWriter(client, () => upstream.resume());
  upstream.once('connect', () => {
    toServer = new SocketWriter(upstream, () => client.resume());
    client.resume();
  });
  client.on('drain', () => upstream.resume());
  upstream.on('drain', () => client.resume());
  client.on('end', () => upstream.end());
  upstream.on('end', () => client.end());
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
process.once('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ events: 0, statements: 0 })}\n`);
  process.exit(0);
});
