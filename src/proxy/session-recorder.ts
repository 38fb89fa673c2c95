import type { EventClass } from '../schema/index.js';
import { rejected } from '../schema/index.js';
import {
  type ErrorFields,
  parseAuthentication,
  parseBackendKeyData,
  parseCommandComplete,
  parseErrorResponse,
  parseParameterStatus,
} from './backend-messages.js';
import { type Classification, type CopyDirection, classifyTag, classifyText } from './classify.js';
import { Auth, Backend, Frontend, frontendName } from './codes.js';
import type { EventSink } from './event-queue.js';
import { parseBind, parseClose, parseDescribe, parseExecute, parseFunctionCall, parseParse, parseQuery } from './frontend-messages.js';
import { parameterExtras, recordParameters } from './parameters.js';
import { MessageFormatError } from './reader.js';
import { buildEvent, clockMicros, type EventFacts, type SessionIdentity, type SessionInfo } from './session-events.js';
import { splitStatements } from './sql-text.js';

/**
 * The recording state machine of one session. It sees a parsed copy of both directions, in order, and
 * turns them into events: CONNECT or AUTH_FAILURE, one event per executed statement, DISCONNECT.
 *
 * The server answers a client's messages strictly in order, so a FIFO of what the client sent matches
 * each response to its request, also when the client pipelines (sends many before reading). After an
 * error in the extended protocol the server ignores everything up to the next Sync; so does the FIFO.
 * https://www.postgresql.org/docs/current/protocol-flow.html
 *
 * A simple Query string may hold several statements: the server sends one CommandComplete per statement
 * and one ReadyForQuery at the end. Each completion becomes an event whose text is its own statement when
 * the string splits into exactly as many statements as completed (see `splitStatements`), else the whole
 * string. Password, SASL and GSS messages are counted but never read.
 */

enum Kind {
  Parse,
  Bind,
  Describe,
  Close,
  Execute,
  Sync,
  Query,
  FunctionCall,
}

const KIND_NAMES = ['Parse', 'Bind', 'Describe', 'Close', 'Execute', 'Sync', 'Query', 'FunctionCall'];

/** One completion (or the error) of a statement within a simple Query. */
interface Outcome {
  time: number;
  command: string | null;
  rows: number | null;
  copy: CopyDirection;
  error: ErrorFields | null;
}

/** A client message waiting for the server's answer. */
interface Pending {
  kind: Kind;
  /** Per-session index of the client message (1-based, the startup packets included). */
  index: number;
  start: number;
  text: string | null;
  parameters: string[] | null;
  extras: Record<string, unknown> | null;
  copy: CopyDirection;
  /** Describe of a prepared statement: its name, to learn the parameter types from ParameterDescription. */
  statement: string | null;
  outcomes: Outcome[] | null;
}

interface Prepared {
  text: string;
  types: number[];
}

interface Portal {
  text: string | null;
  parameters: string[];
  extras: Record<string, unknown> | null;
}

/** Frontend message types the recorder reads; CopyData is only counted. */
export const RECORDED_FRONTEND = Object.values(Frontend).filter((code) => code !== Frontend.CopyData);
/** Backend message types the recorder reads; DataRow, CopyData, notices and notifications are not. */
export const RECORDED_BACKEND = [
  Backend.Authentication,
  Backend.BackendKeyData,
  Backend.BindComplete,
  Backend.CloseComplete,
  Backend.CommandComplete,
  Backend.CopyInResponse,
  Backend.CopyOutResponse,
  Backend.EmptyQueryResponse,
  Backend.ErrorResponse,
  Backend.FunctionCallResponse,
  Backend.NoData,
  Backend.ParameterDescription,
  Backend.ParameterStatus,
  Backend.ParseComplete,
  Backend.PortalSuspended,
  Backend.ReadyForQuery,
  Backend.RowDescription,
];

/** See the module comment. */
export class SessionRecorder {
  /** Set by the server's BackendKeyData; the proxy uses it to route CancelRequests. */
  onBackendKey: (processId: number, secretKey: number) => void = () => {};

  readonly who: SessionIdentity = { user: null, database: null, applicationName: null, processId: null };
  /** The last FATAL (or PANIC) error the server sent: it closes the connection after one. */
  fatal: ErrorFields | null = null;
  private phase: 'new' | 'startup' | 'ready' | 'ended' = 'new';
  private startupIndex = 0;
  private upstreamTls = false;
  private authOk = false;
  private outcomeRecorded = false;
  private seq = 0;
  private lastIndex = 0;
  private readonly fifo: Pending[] = [];
  private head = 0;
  private readonly statements = new Map<string, Prepared>();
  private readonly portals = new Map<string, Portal>();

  constructor(
    readonly info: SessionInfo,
    private readonly sink: EventSink,
    /** Index of the client message being handled: the client stream's frame parser count. */
    private readonly messageIndex: () => number,
  ) {}

  /** An SSLRequest, GSSENCRequest or CancelRequest the proxy answered itself. */
  startupPacket(name: string): void {
    this.count();
    this.sink.skip(name);
  }

  /** The StartupMessage: who connects, to which database. */
  startup(params: Record<string, string>, upstreamTls: boolean): void {
    this.startupIndex = this.count();
    this.phase = 'startup';
    this.upstreamTls = upstreamTls;
    this.who.user = params.user ?? null;
    this.who.database = params.database ?? params.user ?? null;
    this.who.applicationName = params.application_name ?? null;
  }

  /** A typed client message. */
  frontend(code: number, body: Buffer): void {
    const index = this.count();
    try {
      this.onFrontend(code, body, index);
    } catch (err) {
      if (!(err instanceof MessageFormatError)) throw err;
      this.sink.reject(rejected(this.ref(index), `malformed ${frontendName(code)}: ${err.message}`, body.toString('base64')));
    }
  }

  /** A server message. */
  backend(code: number, body: Buffer): void {
    try {
      this.onBackend(code, body);
    } catch (err) {
      if (!(err instanceof MessageFormatError)) throw err;
      this.sink.reject(
        rejected(`${this.info.refPrefix}:server`, `malformed server message '${String.fromCharCode(code)}': ${err.message}`, ''),
      );
    }
  }

  /** A stream could not be framed; recording of that direction stops, relaying does not. */
  framingError(direction: 'client' | 'server', reason: string): void {
    this.sink.reject(rejected(`${this.info.refPrefix}:${direction}`, `${direction} stream: ${reason}`, ''));
  }

  /**
   * The session is over. Requests still waiting for an answer are recorded as failed with `error`, or as
   * unanswered when there is none; then DISCONNECT, or a failed CONNECT when the session never got ready.
   */
  end(error: { code: string | null; message: string } | null): void {
    if (this.phase === 'ended') return;
    this.countTrailing();
    const time = clockMicros();
    const failure: ErrorFields = {
      severity: 'FATAL',
      code: error?.code ?? '',
      message: error?.message ?? 'connection closed before the server answered',
    };
    while (this.head < this.fifo.length) {
      const p = this.shift();
      if (p.kind === Kind.Execute || p.kind === Kind.FunctionCall) this.failed(p, failure, time);
      else if (p.kind === Kind.Query) this.finishQuery(p, { time, command: null, rows: null, copy: p.copy, error: failure });
      else this.sink.skip(`${KIND_NAMES[p.kind]} unanswered`);
    }
    if (this.phase === 'ready') {
      this.emit({
        eventClass: 'DISCONNECT',
        time,
        ref: `${this.info.refPrefix}:end`,
        success: error === null,
        errorCode: error?.code ?? null,
        errorMessage: error?.message ?? null,
        durationMs: (time - this.info.startMicros) / 1000,
      });
    } else if (this.phase === 'startup' && !this.outcomeRecorded) {
      this.emit({
        eventClass: 'CONNECT',
        time,
        ref: this.ref(this.startupIndex),
        success: false,
        statementId: this.startupIndex,
        errorCode: error?.code ?? null,
        errorMessage: error?.message ?? 'connection closed during authentication',
        durationMs: (time - this.info.startMicros) / 1000,
      });
    }
    this.phase = 'ended';
  }

  private onFrontend(code: number, body: Buffer, index: number): void {
    switch (code) {
      case Frontend.Query: {
        this.enqueue(Kind.Query, index, parseQuery(body), null, null).outcomes = [];
        return;
      }
      case Frontend.Parse: {
        const m = parseParse(body);
        this.statements.set(m.name, { text: m.text, types: m.paramTypes });
        this.enqueue(Kind.Parse, index, m.text, null, null);
        return;
      }
      case Frontend.Bind: {
        const m = parseBind(body);
        const prepared = this.statements.get(m.statement);
        const params = recordParameters(m, prepared?.types ?? []);
        const portal: Portal = { text: prepared?.text ?? null, parameters: params.values, extras: parameterExtras(params) };
        this.portals.set(m.portal, portal);
        this.enqueue(Kind.Bind, index, portal.text, portal.parameters, portal.extras);
        return;
      }
      case Frontend.Execute: {
        const m = parseExecute(body);
        const portal = this.portals.get(m.portal);
        this.enqueue(Kind.Execute, index, portal?.text ?? null, portal?.parameters ?? null, portal?.extras ?? null);
        return;
      }
      case Frontend.Describe: {
        const m = parseDescribe(body);
        this.enqueue(Kind.Describe, index, null, null, null).statement = m.kind === 'S' ? m.name : null;
        return;
      }
      case Frontend.Close: {
        const m = parseClose(body);
        (m.kind === 'S' ? this.statements : this.portals).delete(m.name);
        this.enqueue(Kind.Close, index, null, null, null);
        return;
      }
      case Frontend.Sync:
        this.enqueue(Kind.Sync, index, null, null, null);
        return;
      case Frontend.FunctionCall: {
        const m = parseFunctionCall(body);
        this.enqueue(Kind.FunctionCall, index, null, null, { function_oid: m.functionOid });
        return;
      }
      case Frontend.Password:
        // Password, SASL or GSS payload: counted, never read.
        this.sink.skip('authentication message (not recorded)');
        return;
      default:
        this.sink.skip(frontendName(code));
    }
  }

  private onBackend(code: number, body: Buffer): void {
    const p = this.head < this.fifo.length ? this.fifo[this.head] : null;
    switch (code) {
      case Backend.CommandComplete: {
        const c = parseCommandComplete(body);
        if (p?.kind === Kind.Execute) this.completed(this.shift(), c.command, c.rows, clockMicros());
        else if (p?.kind === Kind.Query)
          p.outcomes?.push({ time: clockMicros(), command: c.command, rows: c.rows, copy: p.copy, error: null });
        if (p) p.copy = null;
        return;
      }
      case Backend.ReadyForQuery:
        if (this.phase === 'startup') this.connected();
        else this.readyForQuery();
        return;
      case Backend.ErrorResponse:
        this.error(parseErrorResponse(body), p);
        return;
      case Backend.ParseComplete:
      case Backend.BindComplete:
      case Backend.CloseComplete:
      case Backend.NoData:
        if (p && p.kind !== Kind.Execute && p.kind !== Kind.Query && p.kind !== Kind.Sync) this.sink.skip(KIND_NAMES[this.shift().kind]);
        return;
      case Backend.RowDescription:
        // Also precedes the rows of a simple Query; only a Describe is answered by it alone.
        if (p?.kind === Kind.Describe) this.sink.skip(KIND_NAMES[this.shift().kind]);
        return;
      case Backend.ParameterDescription:
        if (p?.kind === Kind.Describe && p.statement !== null) this.learnTypes(p.statement, body);
        return;
      case Backend.EmptyQueryResponse:
        if (p?.kind === Kind.Execute) {
          this.shift();
          this.sink.skip('empty query');
        }
        return;
      case Backend.PortalSuspended:
        if (p?.kind === Kind.Execute) this.suspended(this.shift());
        return;
      case Backend.CopyInResponse:
      case Backend.CopyOutResponse:
        if (p) p.copy = code === Backend.CopyInResponse ? 'in' : 'out';
        return;
      case Backend.FunctionCallResponse:
        if (p?.kind === Kind.FunctionCall) this.completed(p, 'FUNCTION CALL', null, clockMicros(), 'FUNCTION');
        return;
      case Backend.Authentication:
        if (parseAuthentication(body) === Auth.Ok) this.authOk = true;
        return;
      case Backend.BackendKeyData: {
        const k = parseBackendKeyData(body);
        this.who.processId = k.processId;
        this.onBackendKey(k.processId, k.secretKey);
        return;
      }
      case Backend.ParameterStatus: {
        const s = parseParameterStatus(body);
        if (s.name === 'application_name') this.who.applicationName = s.value;
        return;
      }
    }
  }

  private connected(): void {
    this.phase = 'ready';
    this.outcomeRecorded = true;
    this.emit({
      eventClass: 'CONNECT',
      time: clockMicros(),
      ref: this.ref(this.startupIndex),
      success: true,
      statementId: this.startupIndex,
      durationMs: (clockMicros() - this.info.startMicros) / 1000,
      extras: { client_tls: this.info.clientTls, upstream_tls: this.upstreamTls },
    });
  }

  /** ReadyForQuery ends a Sync, a Query or a FunctionCall. Anything before it got no answer the FIFO expected. */
  private readyForQuery(): void {
    while (this.head < this.fifo.length) {
      const p = this.shift();
      if (p.kind === Kind.Sync) {
        this.sink.skip('Sync');
        return;
      }
      if (p.kind === Kind.Query) {
        this.finishQuery(p, null);
        return;
      }
      if (p.kind === Kind.FunctionCall) return;
      this.sink.skip(`${KIND_NAMES[p.kind]} unanswered`);
    }
  }

  private error(e: ErrorFields, p: Pending | null): void {
    const time = clockMicros();
    if (e.severity === 'FATAL' || e.severity === 'PANIC') this.fatal = e;
    if (this.phase === 'startup') {
      this.outcomeRecorded = true;
      // Class 28 (invalid authorization) and a missing database are failed logins; the rest (too many
      // connections, shutdown) are failed connections.
      const auth = e.code.startsWith('28') || e.code === '3D000';
      this.emit({
        eventClass: auth ? 'AUTH_FAILURE' : 'CONNECT',
        time,
        ref: this.ref(this.startupIndex),
        success: false,
        statementId: this.startupIndex,
        errorCode: e.code || null,
        errorMessage: e.message,
        durationMs: (time - this.info.startMicros) / 1000,
        extras: this.authOk ? { authenticated: true } : null,
      });
      return;
    }
    if (p === null || p.kind === Kind.Sync) {
      // Not an answer to a statement: e.g. FATAL on shutdown, idle timeouts, a commit failing at Sync.
      this.emit({
        eventClass: 'ERROR',
        time,
        ref: this.ref(p?.index ?? this.messageIndex()),
        success: false,
        errorCode: e.code || null,
        errorMessage: e.message,
      });
      return;
    }
    if (p.kind === Kind.Query) {
      p.outcomes?.push({ time, command: null, rows: null, copy: p.copy, error: e });
      return;
    }
    if (p.kind === Kind.FunctionCall) {
      this.failed(p, e, time);
      return;
    }
    this.failed(this.shift(), e, time);
    // The server now discards extended-protocol messages until Sync.
    while (this.head < this.fifo.length && this.fifo[this.head].kind !== Kind.Sync) {
      this.sink.skip(`${KIND_NAMES[this.shift().kind]} ignored after error`);
    }
  }

  private completed(p: Pending, command: string, rows: number | null, time: number, forced?: EventClass): void {
    const c = classifyTag(command, p.copy, p.text);
    this.statementEvent(p, p.text, p.start, forced ? { ...c, eventClass: forced } : c, time, rows, null, p.extras, 1);
  }

  private failed(p: Pending, e: ErrorFields, time: number): void {
    this.statementEvent(p, p.text, p.start, classifyText(p.text, p.copy), time, null, e, p.extras, 1);
  }

  private suspended(p: Pending): void {
    const c = classifyText(p.text, p.copy);
    this.statementEvent(p, p.text, p.start, c, clockMicros(), null, null, { ...p.extras, portal_suspended: true }, 1);
  }

  private finishQuery(p: Pending, last: Outcome | null): void {
    const outcomes = p.outcomes ?? [];
    if (last) outcomes.push(last);
    if (outcomes.length === 0) {
      this.sink.skip('empty query');
      return;
    }
    const text = p.text ?? '';
    const failed = outcomes[outcomes.length - 1].error !== null;
    const pieces = outcomes.length > 1 || failed ? splitStatements(text) : null;
    // A failure stops the string, so fewer outcomes than statements is consistent only when the last failed.
    const split =
      pieces !== null && pieces.length > 1 && (pieces.length === outcomes.length || (failed && pieces.length > outcomes.length));
    let start = p.start;
    for (let k = 0; k < outcomes.length; k++) {
      const o = outcomes[k];
      const statement = split ? (pieces as string[])[k] : text;
      const c = o.error ? classifyText(statement, o.copy) : classifyTag(o.command ?? '', o.copy, statement);
      this.statementEvent(p, statement, start, c, o.time, o.rows, o.error, null, k + 1);
      start = o.time;
    }
  }

  private statementEvent(
    p: Pending,
    text: string | null,
    start: number,
    c: Classification,
    time: number,
    rows: number | null,
    e: ErrorFields | null,
    extras: Record<string, unknown> | null,
    sub: number,
  ): void {
    this.emit({
      eventClass: c.eventClass,
      time,
      ref: sub > 1 ? `${this.ref(p.index)}.${sub}` : this.ref(p.index),
      success: e === null,
      command: c.command,
      objectType: c.objectType,
      text,
      parameters: p.kind === Kind.Query ? [] : p.parameters,
      statementId: p.index,
      substatementId: sub,
      rows,
      errorCode: e ? e.code || null : null,
      errorMessage: e ? e.message : null,
      durationMs: (time - start) / 1000,
      extras,
    });
  }

  private learnTypes(name: string, body: Buffer): void {
    const prepared = this.statements.get(name);
    if (!prepared || body.length < 2) return;
    const n = body.readInt16BE(0);
    if (body.length < 2 + 4 * n) return;
    const types: number[] = new Array(n);
    for (let i = 0; i < n; i++) types[i] = body.readUInt32BE(2 + 4 * i);
    prepared.types = types;
  }

  private enqueue(
    kind: Kind,
    index: number,
    text: string | null,
    parameters: string[] | null,
    extras: Record<string, unknown> | null,
  ): Pending {
    const p: Pending = { kind, index, start: clockMicros(), text, parameters, extras, copy: null, statement: null, outcomes: null };
    this.fifo.push(p);
    return p;
  }

  private shift(): Pending {
    const p = this.fifo[this.head++];
    // Compact now and then instead of Array.shift on every answer.
    if (this.head > 1024 && this.head * 2 > this.fifo.length) {
      this.fifo.splice(0, this.head);
      this.head = 0;
    } else if (this.head === this.fifo.length) {
      this.fifo.length = 0;
      this.head = 0;
    }
    return p;
  }

  private emit(f: EventFacts): void {
    this.sink.push(buildEvent(this.info, this.who, this.seq++, f, f.time));
  }

  private ref(index: number): string {
    return `${this.info.refPrefix}:${index}`;
  }

  /** Counts the client message being handled, and the CopyData messages skipped since the last one. */
  private count(): number {
    const index = this.messageIndex();
    const gap = index - this.lastIndex - 1;
    if (gap > 0) this.sink.skip('CopyData', gap);
    this.sink.records(index - this.lastIndex);
    this.lastIndex = index;
    return index;
  }

  private countTrailing(): void {
    const gap = this.messageIndex() - this.lastIndex;
    if (gap > 0) {
      this.sink.skip('CopyData', gap);
      this.sink.records(gap);
      this.lastIndex += gap;
    }
  }
}
