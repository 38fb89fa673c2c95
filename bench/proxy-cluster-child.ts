/**
 * Several `auditlake proxy` processes sharing one listening port (node:cluster hands accepted
 * connections to the workers in turn), each recording into the same lake under its own instance id, as
 * several proxy tasks behind a load balancer do.
 *
 *   node --import tsx bench/proxy-cluster-child.ts <workers> <port> <upstream> <lake> <instance-id>
 *
 * Prints `{"port": N, "pids": [...]}` once every worker listens; SIGTERM stops the workers (each writes
 * its last unit) and exits once they have.
 */
import cluster from 'node:cluster';

const [workers, port, upstream, lake, instanceId] = process.argv.slice(2);

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const pids: number[] = [];
  let listening = 0;
  for (let i = 0; i < Number(workers); i++) {
    const w = cluster.fork({ BENCH_WORKER: String(i) });
    pids.push(w.process.pid as number);
    w.on('listening', () => {
      if (++listening === Number(workers)) process.stdout.write(`${JSON.stringify({ port: Number(port), pids })}\n`);
    });
  }
  process.once('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  });
  let exited = 0;
  cluster.on('exit', () => {
    if (++exited === Number(workers)) process.exit(0);
  });
} else {
  const args = ['proxy', '--listen', `127.0.0.1:${port}`, '--upstream', upstream, '--out', lake];
  args.push('--instance-id', `${instanceId}-w${process.env.BENCH_WORKER}`);
  const { runCli } = await import('../src/cli/main.js');
  const { processIo } = await import('../src/cli/output.js');
  // Lifecycle lines would mix with the primary's; the lake is what the bench reads.
  const code = await runCli(args, { ...processIo(), out: () => true });
  process.exit(code); // the IPC channel to the primary would keep the worker alive
}
