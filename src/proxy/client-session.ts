import { type OnReadOpts, Socket, type SocketConstructorOpts } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import type { SqlRedactor } from '../redact/index.js';
import { idKey } from '../schema/index.js';
import { encodeErrorResponse } from './backend-messages.js';
import { Frontend, frontendName, Startup } from './codes.js';
import type { EventSink } from './event-queue.js';
import { type ByteBudget, FrameParser } from './frame-parser.js';
import { parseCancelRequest, parseStartupMessage } from './frontend-messages.js';
import type { HostPort } from './options.js';
import { MessageFormatError } from './reader.js';
import { clockMicros } from './session-events.js';
import { BODILESS_BACKEND, BODILESS_FRONTEND, RECORDED_BACKEND, RECORDED_FRONTEND, SessionRecorder } from './session-recorder.js';
import { SocketWriter } from './socket-writer.js';
import { connectUpstream, type UpstreamTls } from './upstream.js';

/**
 * One client connection, in stages:
 * - `startup`: the untyped packets the proxy answers itself (SSLRequest, GSSENCRequest, CancelRequest), up
 *   to the StartupMessage. One of each request at most; a CancelRequest ends the connection.
 * - `connecting`, then `auth`: the server connection opens and authentication runs. The client may send
 *   only authentication messages ('p'), each relayed whole after it was read; anything else is a protocol
 *   violation, recorded as one failed CONNECT, and the connection is closed. Nothing an unauthenticated
 *   client sends is ever recorded as a statement.
 * - `relay`: after AuthenticationOk, bytes go out unchanged before a copy is parsed for the recorder, so the
 *   recorder can neither alter nor delay what the two ends exchange.
 * - `closing`: one side is gone; what the client still sends is read and dropped (so its socket sees EOF
 *   and closes) until it closes or `lingerMs` passes.
 */

/** Limits every session obeys; defaults in the proxy options. */
export interface SessionLimits {
  /** Time from accept to AuthenticationOk (PostgreSQL's authentication_timeout). */
  authTimeoutMs: number;
  /** Requests waiting for the server's answer before the session stops reading from its client. */
  maxPending: number;
  /** Events a session may record per second (sustained; the same again as a burst) before it is slowed. */
  eventsPerSecond: number;
  /** Longest message kept whole for recording; longer ones are recorded from this prefix. */
  maxRecordedBytes: number;
  /** Time a client gets to close after the proxy ended the session. */
  lingerMs: number;
}

/** What the proxy shares with its sessions. */
export interface SessionContext {
  upstream: HostPort;
  upstreamTls: UpstreamTls;
  /** Certificate and key to accept TLS from clients; null answers SSLRequest with 'N'. */
  tlsContext: SecureContext | null;
  /** Refuse a StartupMessage that did not come over TLS. */
  clientTlsRequired: boolean;
  connectTimeoutMs: number;
  limits: SessionLimits;
  /** Bytes for message bodies split across chunks, shared by every session. */
  parseBudget: ByteBudget;
  redactor: SqlRedactor;
  recordParameters: boolean;
  sink: EventSink;
  instanceId: string;
  nextSessionNumber(): number;
  /** BackendKeyData seen, by `pid:secret`, with the server that issued it. */
  cancelKeys: Map<string, HostPort>;
  /** Forwards a CancelRequest packet to a server. */
  forwardCancel(target: HostPort, packet: Buffer): void;
  queueFull(): boolean;
  /** The session's client authenticated (it no longer counts as a connection in startup). */
  onAuthenticated(session: ClientSession): void;
  onClosed(session: ClientSession): void;
  /** Logs what must not reach an unauthenticated client (e.g. why the server could not be reached). */
  log(message: string, fields: Record<string, unknown>): void;
  /** Counters the proxy reports in its stats. */
  counters: SessionCounters;
  /** Relay writes below the stream layer where the socket allows it (see `SocketWriter`). */
  directWrites?: boolean;
}

/** Counters sessions add to. */
export interface SessionCounters {
  upstreamFailures: number;
  /** Messages whose recording failed unexpectedly; each cost its own event, not the session. */
  recorderFailures: number;
  cancelsForwarded: number;
  cancelsUnknown: number;
  /** Clients that sent something other than authentication before authenticating. */
  protocolViolations: number;
  authTimeouts: number;
  /** Clients refused because they did not use TLS while it is required. */
  tlsRefused: number;
}

/** Why the client socket is paused; reading resumes when no reason is left. */
type PauseReason = 'upstream-full' | 'queue-full' | 'connecting' | 'pending' | 'rate';

/** Where the session is; see the module comment. */
type Stage =
  | { name: 'startup'; fed: number; sslAt: number | null; sslRequested: boolean; gssRequested: boolean }
  | { name: 'connecting'; startupPacket: Buffer; queued: Buffer[]; queuedBytes: number }
  | { name: 'auth'; upstream: Endpoint }
  | { name: 'relay'; upstream: SocketWriter }
  | { name: 'closing' };

/** Bytes the server socket reads at once into its reusable buffer (libuv's default read size). */
const READ_BUFFER_BYTES = 64 * 1024;

/** Longest authentication message accepted (PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH is 65535), length word included. */
const MAX_AUTH_MESSAGE = 65535 + 4;
/** What a client may send while the server connection opens. */
const MAX_QUEUED_BYTES = MAX_AUTH_MESSAGE;

type Endpoint = Socket | TLSSocket;
type EndError = { code: string | null; message: string };

/** See the module comment. */
export class ClientSession {
  readonly recorder: SessionRecorder;
  private client: Endpoint;
  private upstream: Endpoint | null = null;
  private readonly fparser: FrameParser;
  private readonly bparser: FrameParser;
  private stage: Stage = { name: 'startup', fed: 0, sslAt: null, sslRequested: false, gssRequested: false };
  private readonly paused = new Set<PauseReason>();
  private cancelKey: string | null = null;
  private clientClosed = false;
  private upstreamClosed = false;
  /** The client sent Terminate: the server closing is no failure. */
  private terminated = false;
  private finished = false;
  private recording = true;
  private endError: EndError | null = null;
  private readonly authTimer: NodeJS.Timeout;
  private lingerTimer: NodeJS.Timeout | null = null;
  private rateTimer: NodeJS.Timeout | null = null;
  private tokens: number;
  private refilledAt = performance.now();
  /** Where a plain-TCP server socket reads into; replaced while a client write still holds it. */
  private upstreamBuffer: Buffer | null = null;
  /** Where the client socket reads into (until TLS, which reads through its own layer); likewise. */
  private clientBuffer: Buffer | null = null;
  /** Relays server bytes to the client (below the stream layer where it can). */
  private clientWriter: SocketWriter;
  /** Relays client bytes to the server; set once it is connected. */
  private upstreamWriter: SocketWriter | null = null;

  constructor(
    accepted: Socket,
    private readonly ctx: SessionContext,
  ) {
    const socket = readingInto(accepted, { buffer: this.clientReadBuffer, callback: this.onClientRead });
    this.client = socket;
    this.clientWriter = new SocketWriter(socket, this.onClientWritten, ctx.directWrites);
    this.tokens = ctx.limits.eventsPerSecond;
    const start = clockMicros();
    const sessionId = `${Math.floor(start / 1e6).toString(16)}.${ctx.nextSessionNumber().toString(16)}`;
    const parserOptions = { maxBody: ctx.limits.maxRecordedBytes, budget: ctx.parseBudget };
    this.fparser = new FrameParser(this.onClientMessage, {
      startup: true,
      wanted: RECORDED_FRONTEND,
      bodiless: BODILESS_FRONTEND,
      ...parserOptions,
    });
    this.fparser.lengthLimit = MAX_AUTH_MESSAGE;
    this.bparser = new FrameParser((code, body) => this.recorder.backend(code, body), {
      wanted: RECORDED_BACKEND,
      bodiless: BODILESS_BACKEND,
      ...parserOptions,
    });
    this.recorder = new SessionRecorder(
      {
        sessionId,
        key: idKey('proxy', ctx.instanceId, sessionId),
        refPrefix: `proxy:${ctx.instanceId}/${sessionId}`,
        clientAddr: socket.remoteAddress?.replace(/^::ffff:/, '') ?? null,
        clientPort: socket.remotePort ?? null,
        serverHost: `${ctx.upstream.host}:${ctx.upstream.port}`,
        startMicros: start,
        clientTls: false,
      },
      ctx.sink,
      () => this.fparser.messages,
      { redactor: ctx.redactor, recordParameters: ctx.recordParameters },
    );
    this.recorder.onBackendKey = (pid, secret) => {
      this.cancelKey = `${pid}:${secret}`;
      ctx.cancelKeys.set(this.cancelKey, ctx.upstream);
    };
    this.recorder.onEvent = this.onEvent;
    this.authTimer = setTimeout(this.onAuthTimeout, ctx.limits.authTimeoutMs);
    socket.setNoDelay(true);
    this.attachClient(socket);
    if (ctx.queueFull()) this.pause('queue-full');
  }

  /** True once the client has authenticated. */
  get authenticated(): boolean {
    return this.stage.name === 'relay' || this.recorder.authenticated;
  }

  /** The event queue filled up (stop reading from the client) or drained (resume). */
  setQueueFull(full: boolean): void {
    if (full) this.pause('queue-full');
    else this.resume('queue-full');
  }

  /** Cuts the session (proxy shutdown, recording failed): the client gets a FATAL error when the server stream is between messages. */
  shutdown(message = 'terminating connection: proxy shutting down'): void {
    this.endError ??= { code: '57P01', message };
    if (!this.clientClosed && this.bparser.pending === 0) {
      this.client.end(encodeErrorResponse({ severity: 'FATAL', code: '57P01', message: this.endError.message }));
    } else {
      this.client.destroy();
    }
    this.upstream?.destroy();
    this.stage = { name: 'closing' };
  }

  private attachClient(socket: Endpoint): void {
    socket.on('data', this.onData);
    socket.on('error', () => {}); // 'close' follows; the session ends there.
    socket.on('end', () => {
      // Pass the client's half-close on, and keep recording what the server still answers.
      if (this.upstream && !this.upstreamClosed) this.upstream.end();
      else if (this.stage.name !== 'relay') this.client.end();
    });
    socket.on('close', () => {
      this.clientClosed = true;
      if (this.upstream && !this.upstreamClosed) this.upstream.end();
      this.finish();
    });
    socket.on('drain', () => this.upstream?.resume());
  }

  /** A direct write to the client that libuv had queued is done: read from the server again. */
  private readonly onClientWritten = (): void => {
    this.upstream?.resume();
  };

  private readonly clientReadBuffer = (): Buffer => {
    this.clientBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
    return this.clientBuffer;
  };

  private readonly onClientRead = (nread: number, buffer: Uint8Array): boolean => {
    this.onData((buffer as Buffer).subarray(0, nread));
    // A write the server socket has not finished still refers to these bytes: the next read goes elsewhere.
    if (this.upstreamWriter?.holding) this.clientBuffer = null;
    return true;
  };

  private readonly onData = (chunk: Buffer): void => {
    const stage = this.stage;
    switch (stage.name) {
      case 'relay':
        // Relay first, then record from the same bytes.
        if (!this.upstreamClosed && !stage.upstream.write(chunk)) this.pause('upstream-full');
        this.feed(this.fparser, chunk, 'client');
        if (this.recorder.pendingCount > this.ctx.limits.maxPending) this.pause('pending');
        return;
      case 'startup':
        this.feed(this.fparser, chunk, 'client');
        stage.fed += chunk.length;
        if (stage.sslAt !== null && this.stage === stage) {
          // Bytes after an SSLRequest, before the handshake, would be injected plaintext (CVE-2021-23214).
          if (stage.fed > stage.sslAt) return void this.client.destroy();
          this.upgradeClient();
        }
        return;
      case 'connecting':
      case 'auth':
        this.feed(this.fparser, chunk, 'client');
        return;
      case 'closing':
        return; // read and dropped: the client's socket must see EOF, and nothing it sends matters any more
    }
  };

  private readonly onClientMessage = (code: number, body: Buffer): void => {
    if (code >= 0x100) {
      this.onStartupPacket(code, body);
      return;
    }
    const stage = this.stage;
    if (stage.name === 'relay') {
      if (code === Frontend.Terminate) this.terminated = true;
      this.recorder.frontend(code, body, this.fparser.truncated ? this.fparser.bodyBytes : null);
      return;
    }
    if (stage.name === 'closing') return;
    if (code !== Frontend.Password) {
      this.violation(`${frontendName(code)} message before authentication`);
      return;
    }
    // Authentication messages are relayed once read whole: nothing unread reaches the server before login.
    this.recorder.frontend(code, body);
    const message = frame(code, body);
    if (stage.name === 'auth') {
      if (!stage.upstream.write(message)) this.pause('upstream-full');
    } else if (stage.name === 'connecting') {
      stage.queued.push(message);
      stage.queuedBytes += message.length;
      if (stage.queuedBytes > MAX_QUEUED_BYTES) this.violation('too much data before the server connection opened');
    }
  };

  private onStartupPacket(code: number, body: Buffer): void {
    const stage = this.stage;
    if (stage.name !== 'startup' || stage.sslAt !== null) return; // after SSLRequest nothing may follow unencrypted
    switch (code) {
      case Startup.SSLRequest:
        if (stage.sslRequested) {
          this.violation('second SSLRequest');
          return;
        }
        stage.sslRequested = true;
        this.recorder.startupPacket('SSLRequest');
        if (this.ctx.tlsContext) stage.sslAt = this.fparser.consumed;
        this.client.write(this.ctx.tlsContext ? 'S' : 'N');
        return;
      case Startup.GSSENCRequest:
        if (stage.gssRequested) {
          this.violation('second GSSENCRequest');
          return;
        }
        stage.gssRequested = true;
        // GSSAPI encryption is not offered; the client goes on with plain or SSL.
        this.recorder.startupPacket('GSSENCRequest');
        this.client.write('N');
        return;
      case Startup.CancelRequest:
        this.cancel(body);
        return;
      default:
        this.startup(body);
        return;
    }
  }

  private upgradeClient(): void {
    const raw = this.client as Socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('end');
    raw.removeAllListeners('close');
    raw.removeAllListeners('drain');
    const secure = new TLSSocket(raw, { isServer: true, secureContext: this.ctx.tlsContext as SecureContext });
    this.client = secure;
    this.clientWriter = new SocketWriter(secure, this.onClientWritten, false);
    this.recorder.info.clientTls = true;
    if (this.stage.name === 'startup') this.stage.sslAt = null;
    this.attachClient(secure);
  }

  private cancel(body: Buffer): void {
    this.recorder.startupPacket('CancelRequest');
    // One key per connection, as PostgreSQL takes it: guessing costs a connection per guess.
    this.stage = { name: 'closing' };
    try {
      const req = parseCancelRequest(body);
      const target = this.ctx.cancelKeys.get(`${req.processId}:${req.secretKey}`);
      // Only keys this proxy handed out are forwarded: the server must not be probed with guesses.
      if (target) {
        this.ctx.counters.cancelsForwarded++;
        this.ctx.forwardCancel(target, frameUntyped(body));
      } else {
        this.ctx.counters.cancelsUnknown++;
      }
    } catch (err) {
      if (!(err instanceof MessageFormatError)) throw err;
    }
    this.closeClient(null);
  }

  private startup(body: Buffer): void {
    let params: Record<string, string> = {};
    try {
      params = parseStartupMessage(body).params;
    } catch (err) {
      if (!(err instanceof MessageFormatError)) throw err;
    }
    this.recorder.startup(params, this.ctx.upstreamTls.mode !== 'disable');
    if (this.ctx.clientTlsRequired && !this.recorder.info.clientTls) {
      this.ctx.counters.tlsRefused++;
      const refusal = { code: '28000', message: 'the proxy accepts only TLS connections (use sslmode=require or stronger)' };
      this.endError = refusal;
      this.closeClient(refusal);
      return;
    }
    this.stage = { name: 'connecting', startupPacket: frameUntyped(body), queued: [], queuedBytes: 0 };
    this.pause('connecting');
    // A plain server socket reads into one reused buffer (no buffer allocated per read, no stream push).
    const onread = { buffer: this.upstreamReadBuffer, callback: this.onUpstreamRead };
    connectUpstream(this.ctx.upstream, this.ctx.upstreamTls, this.ctx.connectTimeoutMs, onread).then(
      (upstream) => this.connected(upstream),
      (err: Error) => this.upstreamFailed(err.message),
    );
  }

  private upstreamFailed(detail: string): void {
    this.ctx.counters.upstreamFailures++;
    // The details (host, port, TLS) go to the log and the event, not to a client that has not logged in.
    this.ctx.log('server connection failed', { session_id: this.recorder.info.sessionId, error: detail });
    this.endError = { code: '08001', message: detail };
    if (this.stage.name === 'closing') {
      this.finish();
      return;
    }
    this.closeClient({ code: '08001', message: 'could not connect to the server' });
    this.finish();
  }

  private connected(upstream: Endpoint): void {
    const stage = this.stage;
    if (this.clientClosed || stage.name !== 'connecting') {
      upstream.destroy();
      this.finish();
      return;
    }
    this.upstream = upstream;
    this.upstreamWriter = new SocketWriter(upstream, () => this.resume('upstream-full'), this.ctx.directWrites);
    upstream.write(Buffer.concat([stage.startupPacket, ...stage.queued]));
    this.stage = { name: 'auth', upstream };
    if (this.ctx.upstreamTls.mode !== 'disable') upstream.on('data', this.onUpstreamData);
    upstream.on('drain', () => this.resume('upstream-full'));
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.terminated) this.endError ??= { code: '08006', message: `server connection failed: ${err.message}` };
    });
    upstream.on('close', () => this.onUpstreamClose());
    this.resume('connecting');
  }

  private readonly upstreamReadBuffer = (): Buffer => {
    this.upstreamBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
    return this.upstreamBuffer;
  };

  private readonly onUpstreamRead = (nread: number, buffer: Uint8Array): boolean => {
    this.onUpstreamData((buffer as Buffer).subarray(0, nread));
    // A write the client socket has not finished still refers to these bytes: the next read goes elsewhere.
    if (this.clientWriter.holding) this.upstreamBuffer = null;
    return true;
  };

  private readonly onUpstreamData = (chunk: Buffer): void => {
    if (!this.clientClosed && !this.clientWriter.write(chunk)) this.upstream?.pause();
    this.feed(this.bparser, chunk, 'server');
    const stage = this.stage;
    if (stage.name === 'auth' && this.recorder.authenticated) {
      // A message begun before AuthenticationOk cannot be relayed whole any more: refuse it.
      if (this.fparser.pending > 0) {
        this.violation('message started before authentication');
        return;
      }
      clearTimeout(this.authTimer);
      this.fparser.lengthLimit = 0x7fffffff;
      this.stage = { name: 'relay', upstream: this.upstreamWriter as SocketWriter };
      this.ctx.onAuthenticated(this);
    }
    if (this.paused.has('pending') && this.recorder.pendingCount <= this.ctx.limits.maxPending / 2) this.resume('pending');
  };

  private onUpstreamClose(): void {
    this.upstreamClosed = true;
    const fatal = this.recorder.fatal;
    if (fatal) this.endError ??= { code: fatal.code || null, message: fatal.message };
    if (!this.clientClosed && this.stage.name !== 'closing') {
      if (!this.terminated && !fatal) {
        // The server went away without saying why: tell the client as libpq would see it.
        const message = 'server closed the connection unexpectedly';
        this.endError ??= { code: '08006', message };
        this.closeClient(this.bparser.pending === 0 ? { code: '08006', message } : null);
      } else {
        this.closeClient(null);
      }
    }
    this.finish();
  }

  /** The client broke the protocol before authenticating: one failed CONNECT is recorded, both sides closed. */
  private violation(message: string): void {
    if (this.stage.name === 'closing') return;
    this.ctx.counters.protocolViolations++;
    this.recorder.protocolViolation(`protocol violation: ${message}`);
    this.endError = { code: '08P01', message: `protocol violation: ${message}` };
    this.upstream?.destroy();
    this.closeClient({ code: '08P01', message: 'protocol violation' });
  }

  private readonly onAuthTimeout = (): void => {
    if (this.authenticated || this.stage.name === 'closing') return;
    this.ctx.counters.authTimeouts++;
    const timeout = { code: '57014', message: 'canceling authentication due to timeout' };
    this.endError = timeout;
    this.upstream?.destroy();
    this.closeClient(timeout);
  };

  /**
   * Ends the client side: an optional FATAL error, then FIN. What the client still sends is read and
   * dropped so its socket sees EOF; if it does not close within `lingerMs`, it is destroyed.
   */
  private closeClient(error: { code: string; message: string } | null): void {
    this.stage = { name: 'closing' };
    this.recording = false;
    if (this.clientClosed) return;
    if (error) this.client.write(encodeErrorResponse({ severity: 'FATAL', code: error.code, message: error.message }));
    this.client.end();
    this.paused.clear();
    this.client.resume();
    this.lingerTimer ??= setTimeout(() => this.client.destroy(), this.ctx.limits.lingerMs);
  }

  private feed(parser: FrameParser, chunk: Buffer, direction: 'client' | 'server'): void {
    if (!this.recording) return;
    this.recorder.chunkTime = clockMicros();
    try {
      parser.feed(chunk);
    } catch (err) {
      // The recorder quarantines what it cannot read; an error here is a bug in framing: fail closed.
      this.ctx.counters.recorderFailures++;
      this.recording = false;
      this.ctx.sink.reject({
        source_ref: `${this.recorder.info.refPrefix}:${direction}`,
        reason: `recorder failure: ${String(err)}`,
        raw: '',
      });
      this.client.destroy();
      this.upstream?.destroy();
      return;
    } finally {
      this.recorder.chunkTime = 0;
    }
    this.ctx.counters.recorderFailures += this.recorder.failures;
    this.recorder.failures = 0;
    if (parser.error !== null) {
      if (!this.authenticated && direction === 'client') {
        this.violation(parser.error);
        return;
      }
      // Responses can no longer be matched to requests: record why, keep relaying (the server judges the bytes).
      this.recording = false;
      this.recorder.framingError(direction, parser.error);
    }
  }

  /** Counts an event against the session's rate; over it, the client is not read until the rate allows. */
  private readonly onEvent = (): void => {
    if (--this.tokens >= 0) return;
    const rate = this.ctx.limits.eventsPerSecond;
    const now = performance.now();
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) / 1000) * rate);
    this.refilledAt = now;
    if (this.tokens >= 0 || this.rateTimer !== null) return;
    this.pause('rate');
    this.rateTimer = setTimeout(
      () => {
        this.rateTimer = null;
        this.resume('rate');
      },
      Math.ceil((-this.tokens / rate) * 1000),
    );
  };

  private pause(reason: PauseReason): void {
    if (this.stage.name === 'closing') return;
    if (this.paused.size === 0) this.client.pause();
    this.paused.add(reason);
  }

  private resume(reason: PauseReason): void {
    if (!this.paused.delete(reason)) return;
    if (this.paused.size === 0) this.client.resume();
  }

  private finish(): void {
    if (this.finished || !this.clientClosed || (this.upstream !== null && !this.upstreamClosed)) return;
    this.finished = true;
    clearTimeout(this.authTimer);
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    if (this.rateTimer) clearTimeout(this.rateTimer);
    this.fparser.release();
    this.bparser.release();
    if (this.cancelKey) this.ctx.cancelKeys.delete(this.cancelKey);
    this.recorder.end(this.endError);
    this.ctx.onClosed(this);
  }
}

/**
 * The accepted socket rebuilt on its own handle with `onread`, which `net.Server` does not offer. The
 * server pauses sockets on connect, so nothing has been read yet; the shell the socket came in is released
 * without closing the connection. A socket that is not such a fresh one is used as it is.
 */
function readingInto(accepted: Socket, onread: OnReadOpts): Socket {
  const shell = accepted as unknown as { _handle: object | null };
  if (!shell._handle || accepted.readableFlowing !== false || accepted.bytesRead > 0) return accepted;
  const socket = new Socket({ handle: shell._handle, onread } as SocketConstructorOpts);
  shell._handle = null;
  accepted.destroy();
  return socket;
}

/** A typed message's bytes from its code and body. */
function frame(code: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = code;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

/** An untyped startup packet's bytes from its body. */
function frameUntyped(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeInt32BE(4 + body.length, 0);
  body.copy(out, 4);
  return out;
}
