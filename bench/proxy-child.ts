/**
 * The proxy under benchmark, in its own process so its CPU time can be read from /proc. Prints
 * `{"port": N}` once listening; on SIGTERM closes the proxy, drains the events and prints the counts.
 */
import { startProxy } from '../src/proxy/index.js';

const upstream = process.argv[2];
const proxy = await startProxy({ listen: '127.0.0.1:0', upstream, instanceId: 'bench' });
let events = 0;
let statements = 0;
const consumer = (async () => {
  for await (const batch of proxy.events) {
    events += batch.events.length;
    for (const e of batch.events) if (e.command === 'SELECT' && e.statement_text?.includes('pgbench_accounts')) statements++;
  }
})();
process.stdout.write(`${JSON.stringify({ port: proxy.address.port })}\n`);
process.once('SIGTERM', async () => {
  await proxy.close();
  await consumer;
  process.stdout.write(`${JSON.stringify({ events, statements, stats: proxy.stats() })}\n`);
  process.exit(0);
});
