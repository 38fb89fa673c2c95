import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { idKey } from '../schema/index.js';
import { encodeErrorResponse } from './backend-messages.js';
import { Frontend, Startup } from './codes.js';
import type { EventSink } from './event-queue.js';
import { FrameParser } from './frame-parser.js';
import { parseCancelRequest, parseStartupMessage } from './frontend-messages.js';
import type { HostPort } from './options.js';
import { MessageFormatError } from './reader.js';
import { clockMicros } from './session-events.js';
import { RECORDED_BACKEND, RECORDED_FRONTEND, SessionRecorder } from './session-recorder.js';
import { connectUpstream, type UpstreamTls } from './upstream.js';

/**
 * One client connection: the startup phase the proxy takes part in (TLS, cancel requests, connecting to
 * the server), then the relay. Bytes go out unchanged before a copy is parsed for the recorder, so the
 * recorder can neither alter nor delay what the two ends exchange.
 */

/** What the proxy shares with its sessions. */
export interface SessionContext {
  upstream: HostPort;
  upstreamTls: UpstreamTls;
  /** Certificate and key to accept TLS from clients; null answers SSLRequest with 'N'. */
  tlsContext: SecureContext | null;
  connectTimeoutMs: number;
  sink: EventSink;
  instanceId: string;
  nextSessionNumber(): number;
  /** BackendKeyData seen, by `pid:secret`, with the server that issued it. */
  cancelKeys: Map<string, HostPort>;
  /** Forwards a CancelRequest packet to a server. */
  forwardCancel(target: HostPort, packet: Buffer): void;
  queueFull(): boolean;
  onClosed(session: ClientSession): void;
  /** Counters the proxy reports in its stats. */
  counters: { upstreamFailures: number; recorderFailures: number; cancelsForwarded: number; cancelsUnknown: number };
}

/** Reasons the client socket is paused; reading resumes when none is left. */
const PAUSE_UPSTREAM_FULL = 1;
const PAUSE_QUEUE_FULL = 2;
const PAUSE_CONNECTING = 4;

type Endpoint = Socket | TLSSocket;

/** See the module comment. */
export class ClientSession {
  readonly recorder: SessionRecorder;
  private client: Endpoint;
  private upstream: Endpoint | null = null;
  private readonly fparser: FrameParser;
  private readonly bparser: FrameParser;
  private rawStartup: Buffer[] | null = [];
  private rawBase = 0;
  private fed = 0;
  private startupAt = -1;
  private sslAt = -1;
  private cancelKey: string | null = null;
  private pauseReasons = 0;
  private clientClosed = false;
  private upstreamClosed = false;
  private terminated = false;
  private finished = false;
  private recording = true;
  private endError: { code: string | null; message: string } | null = null;

  constructor(
    socket: Socket,
    private readonly ctx: SessionContext,
  ) {
    this.client = socket;
    const start = clockMicros();
    const sessionId = `${Math.floor(start / 1e6).toString(16)}.${ctx.nextSessionNumber().toString(16)}`;
    this.fparser = new FrameParser(this.onClientMessage, { startup: true, wanted: RECORDED_FRONTEND });
    this.bparser = new FrameParser((code, body) => this.recorder.backend(code, body), { wanted: RECORDED_BACKEND });
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
    );
    this.recorder.onBackendKey = (pid, secret) => {
      this.cancelKey = `${pid}:${secret}`;
      ctx.cancelKeys.set(this.cancelKey, ctx.upstream);
    };
    socket.setNoDelay(true);
    this.attachClient(socket);
    socket.on('data', this.onStartupData);
    if (ctx.queueFull()) this.pause(PAUSE_QUEUE_FULL);
  }

  /** The event queue filled up (stop reading from the client) or drained (resume). */
  setQueueFull(full: boolean): void {
    if (full) this.pause(PAUSE_QUEUE_FULL);
    else this.resume(PAUSE_QUEUE_FULL);
  }

  /** Cuts the session (proxy shutdown): the client gets a FATAL error when the server stream is between messages. */
  shutdown(): void {
    this.endError ??= { code: '57P01', message: 'terminating connection: proxy shutting down' };
    if (!this.clientClosed && this.bparser.pending === 0) {
      this.client.end(encodeErrorResponse({ severity: 'FATAL', code: '57P01', message: this.endError.message }));
    } else {
      this.client.destroy();
    }
    this.upstream?.destroy();
  }

  private attachClient(socket: Endpoint): void {
    socket.on('error', () => {}); // 'close' follows; the session ends there.
    socket.on('end', () => {
      // Pass the client's half-close on, and keep recording what the server still answers.
      if (!this.upstreamClosed) this.upstream?.end();
    });
    socket.on('close', () => {
      this.clientClosed = true;
      if (this.upstream && !this.upstreamClosed) this.upstream.end();
      else this.finish();
    });
    socket.on('drain', () => this.upstream?.resume());
  }

  private readonly onStartupData = (chunk: Buffer): void => {
    this.rawStartup?.push(chunk);
    this.feed(this.fparser, chunk, 'client');
    this.fed += chunk.length;
    if (this.sslAt >= 0) {
      // Bytes after an SSLRequest, before the handshake, would be injected plaintext (CVE-2021-23214).
      if (this.fed > this.sslAt) return void this.client.destroy();
      this.sslAt = -1;
      this.upgradeClient();
    }
  };

  private readonly onClientMessage = (code: number, body: Buffer): void => {
    if (code >= 0x100) {
      this.onStartupPacket(code, body);
      return;
    }
    if (code === Frontend.Terminate) this.terminated = true;
    this.recorder.frontend(code, body);
  };

  private onStartupPacket(code: number, body: Buffer): void {
    if (this.sslAt >= 0 || this.startupAt >= 0) return; // after SSLRequest nothing may follow unencrypted
    switch (code) {
      case Startup.SSLRequest:
        this.recorder.startupPacket('SSLRequest');
        if (this.ctx.tlsContext) this.sslAt = this.fparser.consumed;
        this.client.write(this.ctx.tlsContext ? 'S' : 'N');
        return;
      case Startup.GSSENCRequest:
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
    this.recorder.info.clientTls = true;
    this.rawStartup = [];
    this.rawBase = this.fed;
    this.attachClient(secure);
    secure.on('data', this.onStartupData);
  }

  private cancel(body: Buffer): void {
    this.recorder.startupPacket('CancelRequest');
    try {
      const req = parseCancelRequest(body);
      const target = this.ctx.cancelKeys.get(`${req.processId}:${req.secretKey}`);
      // Only keys this proxy handed out are forwarded: the server must not be probed with guesses.
      if (target) {
        this.ctx.counters.cancelsForwarded++;
        const packet = Buffer.alloc(4 + body.length);
        packet.writeInt32BE(4 + body.length, 0);
        body.copy(packet, 4);
        this.ctx.forwardCancel(target, packet);
      } else {
        this.ctx.counters.cancelsUnknown++;
      }
    } catch (err) {
      if (!(err instanceof MessageFormatError)) throw err;
    }
    this.client.end();
  }

  private startup(body: Buffer): void {
    this.startupAt = this.fparser.consumed - 4 - body.length;
    let params: Record<string, string> = {};
    try {
      params = parseStartupMessage(body).params;
    } catch (err) {
      if (!(err instanceof MessageFormatError)) throw err;
    }
    this.recorder.startup(params, this.ctx.upstreamTls.mode !== 'disable');
    this.pause(PAUSE_CONNECTING);
    connectUpstream(this.ctx.upstream, this.ctx.upstreamTls, this.ctx.connectTimeoutMs).then(
      (upstream) => this.relay(upstream),
      (err: Error) => this.upstreamFailed(err.message),
    );
  }

  private upstreamFailed(message: string): void {
    this.ctx.counters.upstreamFailures++;
    this.endError = { code: '08001', message };
    if (!this.clientClosed) this.client.end(encodeErrorResponse({ severity: 'FATAL', code: '08001', message }));
    this.finish();
  }

  private relay(upstream: Endpoint): void {
    if (this.clientClosed) {
      upstream.destroy();
      this.finish();
      return;
    }
    this.upstream = upstream;
    const raw = Buffer.concat(this.rawStartup ?? []);
    this.rawStartup = null;
    upstream.write(raw.subarray(this.startupAt - this.rawBase));
    this.client.off('data', this.onStartupData);
    this.client.on('data', this.onClientData);
    upstream.on('data', this.onUpstreamData);
    upstream.on('drain', () => this.resume(PAUSE_UPSTREAM_FULL));
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.terminated) this.endError ??= { code: '08006', message: `server connection failed: ${err.message}` };
    });
    upstream.on('close', () => this.onUpstreamClose());
    this.resume(PAUSE_CONNECTING);
  }

  private readonly onClientData = (chunk: Buffer): void => {
    // Relay first, then record from the same bytes.
    const upstream = this.upstream as Endpoint;
    if (!this.upstreamClosed && !upstream.write(chunk)) this.pause(PAUSE_UPSTREAM_FULL);
    if (this.recording) this.feed(this.fparser, chunk, 'client');
  };

  private readonly onUpstreamData = (chunk: Buffer): void => {
    if (!this.clientClosed && !this.client.write(chunk)) this.upstream?.pause();
    if (this.recording) this.feed(this.bparser, chunk, 'server');
  };

  private onUpstreamClose(): void {
    this.upstreamClosed = true;
    const fatal = this.recorder.fatal;
    if (fatal) this.endError ??= { code: fatal.code || null, message: fatal.message };
    if (!this.clientClosed) {
      if (!this.terminated && !fatal) {
        // The server went away without saying why: tell the client as libpq would see it.
        const message = 'server closed the connection unexpectedly';
        this.endError ??= { code: '08006', message };
        if (this.bparser.pending === 0) this.client.write(encodeErrorResponse({ severity: 'FATAL', code: '08006', message }));
      }
      this.client.end();
    }
    this.finish();
  }

  private feed(parser: FrameParser, chunk: Buffer, direction: 'client' | 'server'): void {
    if (!this.recording) return;
    try {
      parser.feed(chunk);
    } catch (err) {
      // A recorder bug must not let traffic pass unrecorded: fail closed and end the session.
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
    }
    if (parser.error !== null) {
      // Responses can no longer be matched to requests: record why, keep relaying (the server judges the bytes).
      this.recording = false;
      this.recorder.framingError(direction, parser.error);
      if (this.startupAt < 0) this.client.destroy(); // not even a StartupMessage to relay
    }
  }

  private pause(reason: number): void {
    if (this.pauseReasons === 0) this.client.pause();
    this.pauseReasons |= reason;
  }

  private resume(reason: number): void {
    if (this.pauseReasons === 0) return;
    this.pauseReasons &= ~reason;
    if (this.pauseReasons === 0) this.client.resume();
  }

  private finish(): void {
    if (this.finished || !this.clientClosed || (this.upstream !== null && !this.upstreamClosed)) return;
    this.finished = true;
    if (this.cancelKey) this.ctx.cancelKeys.delete(this.cancelKey);
    this.recorder.end(this.endError);
    this.ctx.onClosed(this);
  }
}
