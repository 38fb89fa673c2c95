/**
 * The relay's write call alone: CPU per write of a 100-byte chunk to a loopback socket through
 * `socket.write` (the stream layer) and through `SocketWriter` (the socket's libuv handle), alternating
 * in one process, the peer reading in the same process. The kernel's part (write(2), delivery) is in both.
 *
 *   npx tsx bench/proxy-write.ts [--writes 200000] [--rounds 5]
 */
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { SocketWriter } from '../src/proxy/socket-writer.js';

const argText = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const writes = Number(argText('writes', '200000'));
const rounds = Number(argText('rounds', '5'));

const server = createServer({ noDelay: true });
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const accepted = once(server, 'connection');
const local = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port, noDelay: true });
await once(local, 'connect');
const [peer] = (await accepted) as [Socket];
let received = 0;
peer.on('data', (c: Buffer) => {
  received += c.length;
});
const chunk = Buffer.alloc(100, 7);

/** Writes `writes` chunks, a turn of the event loop every 16 (so the peer reads, as in a relay); CPU µs per write. */
async function run(write: (b: Buffer) => boolean): Promise<number> {
  const target = received + writes * chunk.length;
  const c0 = process.cpuUsage();
  for (let i = 0; i < writes; i++) {
    write(chunk);
    if ((i & 15) === 15) await new Promise((r) => setImmediate(r));
  }
  while (received < target) await new Promise((r) => setImmediate(r));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / writes;
}

const stream = (b: Buffer) => local.write(b);
const writer = new SocketWriter(local, () => {});
const direct = (b: Buffer) => writer.write(b);
const results: Record<string, number[]> = { stream: [], direct: [] };
for (let round = 0; round < rounds; round++) {
  for (const [name, f] of round % 2 === 0
    ? ([
        ['stream', stream],
        ['direct', direct],
      ] as const)
    : ([
        ['direct', direct],
        ['stream', stream],
      ] as const)) {
    results[name].push(await run(f));
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const s = median(results.stream);
const d = median(results.direct);
console.log(
  `CPU per 100-byte write, median of ${rounds} rounds of ${writes}: socket.write ${s.toFixed(2)} µs, SocketWriter ${d.toFixed(2)} µs, ${(d / s).toFixed(2)}x`,
);
local.destroy();
peer.destroy();
server.close();
