import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { createSqlRedactor } from '../redact/index.js';
import type { Batch } from '../schema/index.js';
import { encodeErrorResponse } from './backend-messages.js';
import { ClientSession, type SessionContext, type SessionCounters } from './client-session.js';
import { BatchQueue, type QueueStats } from './event-queue.js';
import { ByteBudget } from './frame-parser.js';
import { type HostPort, type ProxyOptions, type ProxyOptionsInput, parseHostPort, parseProxyOptions } from './options.js';

/**
 * The recording proxy: a TCP server that relays every client to the PostgreSQL server and exposes what
 * it records as an async iterable of batches. It never writes events anywhere itself; the caller (the CLI,
 * an ECS entry point) hands {@link RunningProxy.events} to the pipeline or a JSONL writer.
 */

/** Counters of a running proxy. */
export interface ProxyStats extends SessionCounters {
  /** Sessions open now. */
  activeSessions: number;
  /** Sessions open now whose client has not logged in yet. */
  startupSessions: number;
  /** Sessions accepted since start. */
  sessions: number;
  /** Connections refused, by reason: `max_connections`, `max_startup_connections`, `recording_failed`. */
  refused: Record<RefusalReason, number>;
  queue: QueueStats;
}

/** Why a connection was refused at accept. */
export type RefusalReason = 'max_connections' | 'max_startup_connections' | 'recording_failed';

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
  /**
   * Recording failed (fail-closed): refuses new clients, ends every open session now with a FATAL
   * 57P01 naming `reason`, and closes the queue.
   */
  abort(reason: string): Promise<void>;
  stats(): ProxyStats;
}

/** Hooks of {@link startProxy}. */
export interface ProxyHooks {
  /** Operator log (never sent to clients); default: nothing. */
  log?: (message: string, fields: Record<string, unknown>) => void;
}

/** The open sessions, those still in startup (not yet authenticated), and a way to wait for them to end. */
class SessionTable {
  readonly open = new Set<ClientSession>();
  readonly startup = new Set<ClientSession>();
  /** Sessions accepted since the start. */
  count = 0;
  private idle: (() => void) | null = null;

  add(session: ClientSession): void {
    this.open.add(session);
    this.startup.add(session);
  }

  authenticated(session: ClientSession): void {
    this.startup.delete(session);
  }

  closed(session: ClientSession): void {
    this.open.delete(session);
    this.startup.delete(session);
    if (this.open.size === 0) this.idle?.();
  }

  /** Why a new client is refused now, or null to accept it. */
  refusal(refusing: string | null, options: ProxyOptions): RefusalReason | null {
    if (refusing !== null) return 'recording_failed';
    if (this.open.size >= options.maxConnections) return 'max_connections';
    if (this.startup.size >= options.maxStartupConnections) return 'max_startup_connections';
    return null;
  }

  /** Resolves when every session has ended, or after `ms`. */
  async drained(ms: number): Promise<void> {
    if (this.open.size === 0) return;
    const drained = new Promise<void>((resolve) => {
      this.idle = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }
}

/** Listens on `listen`; resolves with the address bound (the port chosen when 0 was asked for). */
async function listenOn(server: Server, listen: { host: string; port: number }): Promise<{ host: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  return typeof bound === 'object' && bound ? { host: bound.address, port: bound.port } : listen;
}

/** Starts the proxy; rejects with a readable message on bad options or when it cannot listen. */
export async function startProxy(input: ProxyOptionsInput, hooks: ProxyHooks = {}): Promise<RunningProxy> {
  const options = parseProxyOptions(input);
  const listen = parseHostPort(options.listen, 'listen');
  const upstream = parseHostPort(options.upstream, 'upstream');
  const instanceId = options.instanceId ?? randomBytes(4).toString('hex');
  const queue = new BatchQueue({
    capacity: options.queueCapacity,
    flushSize: options.flushSize,
    flushAgeMs: options.flushAgeMs,
    onOverflow: options.onOverflow,
  });
  const sessions = new SessionTable();
  let full = false;
  let refusing: string | null = null;
  const counters: SessionCounters = {
    upstreamFailures: 0,
    recorderFailures: 0,
    cancelsForwarded: 0,
    cancelsUnknown: 0,
    protocolViolations: 0,
    authTimeouts: 0,
    tlsRefused: 0,
  };
  const refused: Record<RefusalReason, number> = { max_connections: 0, max_startup_connections: 0, recording_failed: 0 };

  queue.onPressure = (isFull) => {
    full = isFull;
    for (const s of sessions.open) s.setQueueFull(isFull);
  };

  const ctx = sessionContext(options, upstream, instanceId, queue, hooks, counters, {
    queueFull: () => full,
    nextSessionNumber: () => ++sessions.count,
    onAuthenticated: (session) => sessions.authenticated(session),
    onClosed: (session) => sessions.closed(session),
  });

  // Paused on connect: the session rebuilds the socket to read into its own buffer (see ClientSession).
  const server: Server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => {
    const reason = sessions.refusal(refusing, options);
    if (reason !== null) {
      refused[reason]++;
      refuse(socket, reason === 'recording_failed' ? '57P01' : '53300', refusing ?? 'sorry, too many clients already');
      return;
    }
    sessions.add(new ClientSession(socket, ctx));
  });
  const address = await listenOn(server, listen);

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await sessions.drained(options.shutdownTimeoutMs);
      for (const s of sessions.open) s.shutdown();
      await sessions.drained(options.lingerMs + 1000);
      await stopped;
      queue.close();
    })();
    return closing;
  };
  const abort = (reason: string): Promise<void> => {
    refusing ??= `terminating connection: ${reason}`;
    for (const s of sessions.open) s.shutdown(refusing);
    return close();
  };

  return {
    events: queue,
    address,
    instanceId,
    close,
    abort,
    stats: () => ({
      activeSessions: sessions.open.size,
      startupSessions: sessions.startup.size,
      sessions: sessions.count,
      ...counters,
      refused: { ...refused },
      queue: queue.stats(),
    }),
  };
}

/** A PEM text given inline (e.g. from a secret in the environment), or the file holding it. */
function pemOrFile(value: string): Buffer {
  return value.startsWith('-----BEGIN') ? Buffer.from(value) : readFileSync(value);
}

/** Refuses a connection at accept the way PostgreSQL does: one FATAL ErrorResponse, then close. */
function refuse(socket: Socket, code: string, message: string): void {
  socket.on('error', () => {});
  socket.resume(); // read and dropped, so the client's FIN is seen
  socket.end(encodeErrorResponse({ severity: 'FATAL', code, message }));
  socket.setTimeout(1000, () => socket.destroy());
}

/** What every session shares, from the options. */
function sessionContext(
  options: ProxyOptions,
  upstream: HostPort,
  instanceId: string,
  queue: BatchQueue,
  hooks: ProxyHooks,
  counters: SessionCounters,
  server: Pick<SessionContext, 'queueFull' | 'nextSessionNumber' | 'onAuthenticated' | 'onClosed'>,
): SessionContext {
  return {
    upstream,
    upstreamTls: { mode: options.upstreamTls, ca: options.upstreamCa ? readFileSync(options.upstreamCa) : undefined },
    tlsContext:
      options.tlsCert && options.tlsKey ? createSecureContext({ cert: pemOrFile(options.tlsCert), key: pemOrFile(options.tlsKey) }) : null,
    clientTlsRequired: options.clientTls === 'require',
    connectTimeoutMs: options.connectTimeoutMs,
    limits: {
      authTimeoutMs: options.authTimeoutMs,
      maxPending: options.maxPending,
      eventsPerSecond: options.sessionEventsPerSecond,
      maxRecordedBytes: options.maxRecordedBytes,
      lingerMs: options.lingerMs,
    },
    parseBudget: new ByteBudget(options.parseBudgetBytes),
    redactor: createSqlRedactor(options.redact),
    recordParameters: options.recordParameters,
    directWrites: options.directWrites,
    sink: queue,
    instanceId,
    cancelKeys: new Map(),
    forwardCancel(target, packet) {
      // A cancel is its own short connection: the packet, then the server closes it.
      const socket = netConnect({ host: target.host, port: target.port }, () => socket.end(packet));
      socket.on('error', () => {});
      socket.setTimeout(options.connectTimeoutMs, () => socket.destroy());
    },
    log: hooks.log ?? (() => {}),
    counters,
    ...server,
  };
}
