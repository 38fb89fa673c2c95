/**
 * The floor of any Node.js proxy: a bare `net` pass-through (pipe both ways), no parsing, no recording.
 * Prints `{"port": N}` once listening, like `proxy-child.ts`.
 */
import { connect, createServer } from 'node:net';

const [host, port] = (process.argv[2] ?? '').split(':');
const server = createServer({ noDelay: true }, (client) => {
  const upstream = connect({ host, port: Number(port), noDelay: true });
  client.pipe(upstream).on('error', () => client.destroy());
  upstream.pipe(client).on('error', () => upstream.destroy());
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
process.once('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ events: 0, statements: 0 })}\n`);
  process.exit(0);
});
