import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Server } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Batch } from '../schema/index.js';
import { ClientSession, type SessionContext } from './client-session.js';
import { BatchQueue, type QueueStats } from './event-queue.js';
import { type HostPort, type ProxyOptionsInput, parseHostPort, parseProxyOptions } from './options.js';

/**
 * The recording proxy: a TCP server that relays every client to the PostgreSQL server and exposes what
 * it records as an async iterable of batches. It never writes events anywhere itself; the caller (the CLI,
 * an ECS entry point) hands {@link RunningProxy.events} to the pipeline or a JSONL writer.
 */

/** Counters of a running proxy. */
export interface ProxyStats {
  /** Sessions open now. */
  activeSessions: number;
  /** Sessions accepted since start. */
  sessions: number;
  /** Sessions whose server connection could not be opened. */
  upstreamFailures: number;
  /** Sessions cut because the recorder failed (fail-closed). */
  recorderFailures: number;
  cancelsForwarded: number;
  /** CancelRequests with a key this proxy never saw; not forwarded. */
  cancelsUnknown: number;
  queue: QueueStats;
}

/** A started proxy. */
export interface RunningProxy {
  /** What the sessions record. Iterate it once; it ends after {@link RunningProxy.close}. */
  events: AsyncIterable<Batch>;
  /** Where clients connect. */
  address: HostPort;
  /** Name of this instance in source_ref and event ids. */
  instanceId: string;
  /**
   * Stops accepting clients, lets open sessions finish up to `shutdownTimeoutMs`, cuts the rest, and
   * flushes the queue: {@link RunningProxy.events} ends once the consumer has taken the last batch.
   */
  close(): Promise<void>;
  stats(): ProxyStats;
}

/** Starts the proxy; rejects with a readable message on bad options or when it cannot listen. */
export async function startProxy(input: ProxyOptionsInput): Promise<RunningProxy> {
  const options = parseProxyOptions(input);
  const listen = parseHostPort(options.listen, 'listen');
  const upstream = parseHostPort(options.upstream, 'upstream');
  const instanceId = options.instanceId ?? randomBytes(4).toString('hex');
  const tlsContext =
    options.tlsCert && options.tlsKey
      ? createSecureContext({ cert: readFileSync(options.tlsCert), key: readFileSync(options.tlsKey) })
      : null;
  const queue = new BatchQueue({
    capacity: options.queueCapacity,
    flushSize: options.flushSize,
    flushAgeMs: options.flushAgeMs,
    onOverflow: options.onOverflow,
  });
  const sessions = new Set<ClientSession>();
  let sessionCount = 0;
  let full = false;
  let idle: (() => void) | null = null;
  const counters = { upstreamFailures: 0, recorderFailures: 0, cancelsForwarded: 0, cancelsUnknown: 0 };

  queue.onPressure = (isFull) => {
    full = isFull;
    for (const s of sessions) s.setQueueFull(isFull);
  };

  const ctx: SessionContext = {
    upstream,
    upstreamTls: { mode: options.upstreamTls, ca: options.upstreamCa ? readFileSync(options.upstreamCa) : undefined },
    tlsContext,
    connectTimeoutMs: options.connectTimeoutMs,
    sink: queue,
    instanceId,
    nextSessionNumber: () => ++sessionCount,
    cancelKeys: new Map(),
    forwardCancel(target, packet) {
      // A cancel is its own short connection: the packet, then the server closes it.
      const socket = netConnect({ host: target.host, port: target.port }, () => socket.end(packet));
      socket.on('error', () => {});
      socket.setTimeout(options.connectTimeoutMs, () => socket.destroy());
    },
    queueFull: () => full,
    onClosed(session) {
      sessions.delete(session);
      if (sessions.size === 0) idle?.();
    },
    counters,
  };

  const server: Server = createServer({ noDelay: true }, (socket) => {
    sessions.add(new ClientSession(socket, ctx));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const address = typeof bound === 'object' && bound ? { host: bound.address, port: bound.port } : listen;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      if (sessions.size > 0) {
        const drained = new Promise<void>((resolve) => {
          idle = resolve;
        });
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, options.shutdownTimeoutMs);
        });
        await Promise.race([drained, timeout]);
        clearTimeout(timer);
        if (sessions.size > 0) {
          for (const s of sessions) s.shutdown();
          await drained;
        }
      }
      await stopped;
      queue.close();
    })();
    return closing;
  };

  return {
    events: queue,
    address,
    instanceId,
    close,
    stats: () => ({ activeSessions: sessions.size, sessions: sessionCount, ...counters, queue: queue.stats() }),
  };
}
