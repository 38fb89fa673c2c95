import { type RedactedStatement, redactParameters, type SqlRedactor, scrubText } from '../redact/index.js';
import type { EventClass } from '../schema/index.js';
import { rejected } from '../schema/index.js';
import {
  type ErrorFields,
  parseAuthentication,
  parseBackendKeyData,
  parseCommandComplete,
  parseErrorResponse,
  parseParameterDescription,
  parseParameterStatus,
} from './backend-messages.js';
import { type Classification, type CopyDirection, classifyTag, classifyText } from './classify.js';
import { Auth, Backend, Frontend, frontendName } from './codes.js';
import type { EventSink } from './event-queue.js';
import {
  type ParseMessage,
  parseClose,
  parseDescribe,
  parseExecute,
  parseFunctionCall,
  parseParse,
  parseQuery,
} from './frontend-messages.js';
import { readBind } from './parameters.js';
import { BodyReader, MessageFormatError } from './reader.js';
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

/** One completion (or the error) of a statement within a simple Query. */
interface Outcome {
  time: number;
  command: string | null;
  rows: number | null;
  copy: CopyDirection;
  error: ErrorFields | null;
}

/** What a statement event says about what ran: its text, bound values and extra facts. */
interface Subject {
  text: string | null;
  parameters: string[] | null;
  extras: Record<string, unknown> | null;
}

/** What the client sent. */
type RequestKind = 'Query' | 'Execute' | 'FunctionCall' | 'Parse' | 'Bind' | 'Describe' | 'Close' | 'Sync';

/**
 * A client message waiting for the server's answer. Every kind has the same fields (those it does not use
 * are null or {@link NO_SUBJECT}), so the FIFO holds objects of one shape and the code reading its head
 * sees one map instead of one per kind.
 */
interface Pending {
  kind: RequestKind;
  /** Per-session index of the message (1-based, the startup packets included). */
  index: number;
  /** When it was sent (microseconds). */
  start: number;
  /** What a Query, Execute, FunctionCall, Parse or Bind runs; {@link NO_SUBJECT} for the others. */
  subject: Subject;
  /** COPY under way: Query, Execute and FunctionCall only. */
  copy: CopyDirection;
  /** Completions of a Query's statements so far; null for the other kinds. */
  outcomes: Outcome[] | null;
  /** The prepared statement a Describe names, to learn its parameter types from ParameterDescription. */
  statement: string | null;
}

/** Whether a request can start a COPY (only statements that run can). */
function runs(kind: RequestKind): boolean {
  return kind === 'Query' || kind === 'Execute' || kind === 'FunctionCall';
}

interface Prepared {
  text: string;
  types: number[];
  /** Set when the Parse was longer than the recorder keeps. */
  extras: Record<string, unknown> | null;
}

/** What an event about a statement needs beyond the pending request. */
interface StatementFacts {
  subject: Subject;
  start: number;
  c: Classification;
  time: number;
  rows: number | null;
  error: ErrorFields | null;
  /** 1-based statement within a simple Query string. */
  sub: number;
}

/** Options of a {@link SessionRecorder}. */
export interface RecorderOptions {
  /** Redacts statement text and secret parameters before an event is queued. */
  redactor: SqlRedactor;
  /** Whether bound parameter values are recorded (pgAudit's `log_parameter`); false records none. */
  recordParameters: boolean;
}

const NO_TYPES: readonly number[] = [];
/** Longest Parse whose bytes are kept to recognize it when it repeats. */
const REUSED_PARSE_BYTES = 4096;
const NO_SUBJECT: Subject = { text: null, parameters: null, extras: null };

/** Frontend message types the recorder reads; CopyData is only counted. */
export const RECORDED_FRONTEND = Object.values(Frontend).filter((code) => code !== Frontend.CopyData);
/** Frontend message types whose arrival the recorder counts but whose body it never reads. */
export const BODILESS_FRONTEND = [Frontend.Sync, Frontend.Flush, Frontend.CopyDone, Frontend.CopyFail, Frontend.Terminate];
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
/** Backend message types whose arrival the recorder needs but whose body it never reads. */
export const BODILESS_BACKEND = [
  Backend.BindComplete,
  Backend.CloseComplete,
  Backend.CopyInResponse,
  Backend.CopyOutResponse,
  Backend.EmptyQueryResponse,
  Backend.FunctionCallResponse,
  Backend.NoData,
  Backend.ParseComplete,
  Backend.PortalSuspended,
  Backend.ReadyForQuery,
  Backend.RowDescription,
];

/** See the module comment. */
export class SessionRecorder {
  /** Set by the server's BackendKeyData; the proxy uses it to route CancelRequests. */
  onBackendKey: (processId: number, secretKey: number) => void = () => {};
  /** Called for every event queued, so the session can hold a client that records too fast. */
  onEvent: () => void = () => {};

  readonly who: SessionIdentity = { user: null, database: null, applicationName: null, processId: null };
  /** The last FATAL (or PANIC) error the server sent: it closes the connection after one. */
  fatal: ErrorFields | null = null;
  /** Messages whose recording failed unexpectedly (a bug); each cost its own event only. */
  failures = 0;
  /**
   * When the chunk being parsed was read (microseconds), set by the session around each one: every message
   * of a chunk arrived then, and the clock is read once per chunk instead of once per message. 0: read it.
   */
  chunkTime = 0;
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
  private readonly portals = new Map<string, Subject>();
  /** The last whole Parse (a copy of its body: read buffers are reused) and its reading. */
  private lastParse: { bytes: Buffer; message: ParseMessage } | null = null;
  private lastRedacted: { from: string; result: RedactedStatement } | null = null;

  constructor(
    readonly info: SessionInfo,
    private readonly sink: EventSink,
    /** Index of the client message being handled: the client stream's frame parser count. */
    private readonly messageIndex: () => number,
    private readonly options: RecorderOptions,
  ) {}

  /** True once the server has sent AuthenticationOk: before that only authentication messages are legitimate. */
  get authenticated(): boolean {
    return this.authOk;
  }

  /** Client requests waiting for the server's answer. */
  get pendingCount(): number {
    return this.fifo.length - this.head;
  }

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

  /**
   * A typed client message. `fullLength` is the body's length on the wire when `body` is only its first
   * part (the message was longer than the recorder keeps). A message the recorder cannot read costs its
   * own event (quarantined with the reason), never the session.
   */
  frontend(code: number, body: Buffer, fullLength: number | null = null): void {
    const index = this.count();
    try {
      this.onFrontend(code, body, index, fullLength);
    } catch (err) {
      const malformed = err instanceof MessageFormatError;
      if (!malformed) this.failures++;
      const reason = malformed
        ? `malformed ${frontendName(code)}: ${err.message}`
        : `recorder failure on ${frontendName(code)}: ${String(err)}`;
      this.sink.reject(rejected(this.ref(index), reason, rawOf(code, body)));
    }
  }

  /** A server message; one the recorder cannot read is quarantined, and the session goes on. */
  backend(code: number, body: Buffer): void {
    try {
      this.onBackend(code, body);
    } catch (err) {
      const malformed = err instanceof MessageFormatError;
      if (!malformed) this.failures++;
      const what = `server message '${String.fromCharCode(code)}'`;
      const reason = malformed ? `malformed ${what}: ${err.message}` : `recorder failure on ${what}: ${String(err)}`;
      this.sink.reject(rejected(`${this.info.refPrefix}:server`, reason, ''));
    }
  }

  /** A stream could not be framed; recording of that direction stops, relaying does not. */
  framingError(direction: 'client' | 'server', reason: string): void {
    this.sink.reject(rejected(`${this.info.refPrefix}:${direction}`, `${direction} stream: ${reason}`, ''));
  }

  /**
   * The client broke the protocol before authenticating (e.g. sent a Query while the server asked for a
   * password): the session is recorded as one failed CONNECT with SQLSTATE 08P01, and nothing it sent.
   */
  protocolViolation(message: string): void {
    this.countTrailing();
    if (this.outcomeRecorded || this.phase === 'ended') return;
    this.outcomeRecorded = true;
    const time = clockMicros();
    this.emit({
      eventClass: 'CONNECT',
      time,
      ref: this.ref(this.startupIndex || this.messageIndex()),
      success: false,
      statementId: this.startupIndex || null,
      errorCode: '08P01',
      errorMessage: message,
      durationMs: (time - this.info.startMicros) / 1000,
    });
    // Whatever the client queued before is not to be believed: it is not recorded.
    for (; this.head < this.fifo.length; this.head++) this.sink.skip('request before authentication');
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
      if (p.kind === 'Execute' || p.kind === 'FunctionCall') this.failed(p, failure, time);
      else if (p.kind === 'Query') this.finishQuery(p, { time, command: null, rows: null, copy: p.copy, error: failure });
      else this.sink.skip(`${p.kind} unanswered`);
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

  private onFrontend(code: number, body: Buffer, index: number, fullLength: number | null): void {
    const start = this.now();
    switch (code) {
      case Frontend.Query: {
        const text = fullLength === null ? parseQuery(body) : prefixText(body, 0);
        const subject = { text, parameters: null, extras: truncation(body, fullLength) };
        this.enqueue('Query', index, start, subject, []);
        return;
      }
      case Frontend.Parse: {
        const m = fullLength === null ? this.parse(body) : parsePrefix(body);
        const prepared = { text: m.text, types: m.paramTypes, extras: truncation(body, fullLength) };
        this.statements.set(m.name, prepared);
        this.enqueue('Parse', index, start, { text: m.text, parameters: null, extras: prepared.extras });
        return;
      }
      case Frontend.Bind: {
        const subject = this.bind(body, fullLength);
        this.enqueue('Bind', index, start, subject);
        return;
      }
      case Frontend.Execute: {
        const m = parseExecute(body);
        this.enqueue('Execute', index, start, this.portals.get(m.portal) ?? NO_SUBJECT);
        return;
      }
      case Frontend.Describe: {
        const m = parseDescribe(body);
        this.enqueue('Describe', index, start, NO_SUBJECT, null, m.kind === 'S' ? m.name : null);
        return;
      }
      case Frontend.Close: {
        const m = parseClose(body);
        (m.kind === 'S' ? this.statements : this.portals).delete(m.name);
        this.enqueue('Close', index, start);
        return;
      }
      case Frontend.Sync:
        this.enqueue('Sync', index, start);
        return;
      case Frontend.FunctionCall: {
        const m = parseFunctionCall(body);
        const subject = { text: null, parameters: null, extras: { function_oid: m.functionOid } };
        this.enqueue('FunctionCall', index, start, subject);
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

  /**
   * A whole Parse. Clients that do not name statements (libpq's PQexecParams, pgbench -M extended) send
   * the same Parse before every execution: when its bytes are the last one's, its reading is reused, so the
   * text is decoded once and the redaction below sees the same string again.
   */
  private parse(body: Buffer): ParseMessage {
    const last = this.lastParse;
    if (last !== null && body.equals(last.bytes)) return last.message;
    const message = parseParse(body);
    // The copy is outside the parse budget: only short statements are kept, a few kB per session at most.
    this.lastParse = body.length <= REUSED_PARSE_BYTES ? { bytes: Buffer.from(body), message } : null;
    return message;
  }

  /** Redacts a statement's text; the result of the last text is kept, as statements repeat (see {@link parse}). */
  private redact(text: string): RedactedStatement {
    const last = this.lastRedacted;
    if (last !== null && last.from === text) return last.result;
    const result = this.options.redactor.statement(text);
    this.lastRedacted = { from: text, result };
    return result;
  }

  /** A Bind becomes the portal it names: the statement's text with the bound values. */
  private bind(body: Buffer, fullLength: number | null): Subject {
    if (fullLength !== null) {
      // Too long to keep whole: the values are not recorded, the statement is.
      const r = new BodyReader(body);
      const portal = r.cstring();
      const prepared = this.statements.get(r.cstring());
      const subject = { text: prepared?.text ?? null, parameters: null, extras: { parameters_truncated: true, bind_bytes: fullLength } };
      this.portals.set(portal, subject);
      return subject;
    }
    const m = readBind(body, this.typesOf, this.options.recordParameters);
    const prepared = this.statements.get(m.statement);
    const subject = { text: prepared?.text ?? null, parameters: m.values, extras: mergeExtras(prepared?.extras, m.extras) };
    this.portals.set(m.portal, subject);
    return subject;
  }

  private onBackend(code: number, body: Buffer): void {
    const p = this.head < this.fifo.length ? this.fifo[this.head] : null;
    switch (code) {
      case Backend.CommandComplete: {
        const c = parseCommandComplete(body);
        if (p?.kind === 'Execute') {
          this.shift();
          this.completed(p, c.command, c.rows, this.now());
        } else if (p?.kind === 'Query')
          (p.outcomes as Outcome[]).push({ time: this.now(), command: c.command, rows: c.rows, copy: p.copy, error: null });
        if (p && runs(p.kind)) p.copy = null;
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
        if (p && p.kind !== 'Execute' && p.kind !== 'Query' && p.kind !== 'Sync') this.sink.skip(this.shift().kind);
        return;
      case Backend.RowDescription:
        // Also precedes the rows of a simple Query; only a Describe is answered by it alone.
        if (p?.kind === 'Describe') this.sink.skip(this.shift().kind);
        return;
      case Backend.ParameterDescription:
        if (p?.kind === 'Describe' && p.statement !== null) this.learnTypes(p.statement, parseParameterDescription(body));
        return;
      case Backend.EmptyQueryResponse:
        if (p?.kind === 'Execute') {
          this.shift();
          this.sink.skip('empty query');
        }
        return;
      case Backend.PortalSuspended:
        if (p?.kind === 'Execute') {
          this.shift();
          this.suspended(p);
        }
        return;
      case Backend.CopyInResponse:
      case Backend.CopyOutResponse:
        if (p && runs(p.kind)) p.copy = code === Backend.CopyInResponse ? 'in' : 'out';
        return;
      case Backend.FunctionCallResponse:
        if (p?.kind === 'FunctionCall') this.completed(p, 'FUNCTION CALL', null, this.now(), 'FUNCTION');
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
      time: this.now(),
      ref: this.ref(this.startupIndex),
      success: true,
      statementId: this.startupIndex,
      durationMs: (this.now() - this.info.startMicros) / 1000,
      extras: { client_tls: this.info.clientTls, upstream_tls: this.upstreamTls },
    });
  }

  /** ReadyForQuery ends a Sync, a Query or a FunctionCall. Anything before it got no answer the FIFO expected. */
  private readyForQuery(): void {
    while (this.head < this.fifo.length) {
      const p = this.shift();
      if (p.kind === 'Sync') {
        this.sink.skip('Sync');
        return;
      }
      if (p.kind === 'Query') {
        this.finishQuery(p, null);
        return;
      }
      if (p.kind === 'FunctionCall') return;
      this.sink.skip(`${p.kind} unanswered`);
    }
  }

  private error(e: ErrorFields, p: Pending | null): void {
    const time = this.now();
    if (e.severity === 'FATAL' || e.severity === 'PANIC') this.fatal = e;
    if (this.phase === 'startup') {
      if (this.outcomeRecorded) return;
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
    if (p === null || p.kind === 'Sync') {
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
    if (p.kind === 'Query') {
      (p.outcomes as Outcome[]).push({ time, command: null, rows: null, copy: p.copy, error: e });
      return;
    }
    if (p.kind === 'FunctionCall') {
      this.failed(p, e, time);
      return;
    }
    this.failed(this.shift(), e, time);
    // The server now discards extended-protocol messages until Sync.
    while (this.head < this.fifo.length && this.fifo[this.head].kind !== 'Sync') {
      this.sink.skip(`${this.shift().kind} ignored after error`);
    }
  }

  private completed(p: Pending, command: string, rows: number | null, time: number, forced?: EventClass): void {
    const c = classifyTag(command, p.copy, p.subject.text);
    this.statementEvent(p, {
      subject: p.subject,
      start: p.start,
      c: forced ? { ...c, eventClass: forced } : c,
      time,
      rows,
      error: null,
      sub: 1,
    });
  }

  private failed(p: Pending, e: ErrorFields, time: number): void {
    const subject = p.subject;
    const c = classifyText(subject.text, p.copy);
    this.statementEvent(p, { subject, start: p.start, c, time, rows: null, error: e, sub: 1 });
  }

  private suspended(p: Pending): void {
    const subject = { ...p.subject, extras: { ...p.subject.extras, portal_suspended: true } };
    const c = classifyText(p.subject.text, p.copy);
    this.statementEvent(p, { subject, start: p.start, c, time: this.now(), rows: null, error: null, sub: 1 });
  }

  private finishQuery(p: Pending, last: Outcome | null): void {
    const outcomes = p.outcomes as Outcome[];
    if (last) outcomes.push(last);
    if (outcomes.length === 0) {
      this.sink.skip('empty query');
      return;
    }
    const text = p.subject.text ?? '';
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
      const subject = { text: statement, parameters: [], extras: p.subject.extras };
      this.statementEvent(p, { subject, start, c, time: o.time, rows: o.rows, error: o.error, sub: k + 1 });
      start = o.time;
    }
  }

  /** Emits the event of one statement, its text and secret parameters redacted. */
  private statementEvent(p: Pending, f: StatementFacts): void {
    let text = f.subject.text;
    let parameters = f.subject.parameters;
    if (text !== null) {
      const r = this.redact(text);
      text = r.text;
      if (r.parameters.length > 0 && parameters) parameters = redactParameters(parameters, r.parameters);
    }
    this.emit({
      eventClass: f.c.eventClass,
      time: f.time,
      ref: f.sub > 1 ? `${this.ref(p.index)}.${f.sub}` : this.ref(p.index),
      success: f.error === null,
      command: f.c.command,
      objectType: f.c.objectType,
      text,
      parameters,
      statementId: p.index,
      substatementId: f.sub,
      rows: f.rows,
      errorCode: f.error ? f.error.code || null : null,
      errorMessage: f.error ? f.error.message : null,
      durationMs: (f.time - f.start) / 1000,
      extras: f.subject.extras,
    });
  }

  /** Parameter type OIDs known for a prepared statement (0 = unspecified). */
  private readonly typesOf = (statement: string): readonly number[] => this.statements.get(statement)?.types ?? NO_TYPES;

  private learnTypes(name: string, types: number[]): void {
    const prepared = this.statements.get(name);
    if (prepared) prepared.types = types;
  }

  private enqueue(
    kind: RequestKind,
    index: number,
    start: number,
    subject: Subject = NO_SUBJECT,
    outcomes: Outcome[] | null = null,
    statement: string | null = null,
  ): void {
    this.fifo.push({ kind, index, start, subject, copy: null, outcomes, statement });
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
    this.onEvent();
  }

  private now(): number {
    return this.chunkTime || clockMicros();
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

/** The `raw_extras` member of a message cut to its first part. */
function truncation(body: Buffer, fullLength: number | null): Record<string, unknown> | null {
  return fullLength === null ? null : { statement_truncated: true, recorded_bytes: body.length, message_bytes: fullLength };
}

/** The text of a body prefix from `offset` up to a NUL or the end (a cut message has no NUL). */
function prefixText(body: Buffer, offset: number): string {
  const end = body.indexOf(0, offset);
  // A cut may split a UTF-8 sequence; the replacement character marks it.
  return body.toString('utf8', offset, end < 0 ? body.length : end);
}

/** Name and text prefix of a Parse cut to its first part; parameter types are not known. */
function parsePrefix(body: Buffer): { name: string; text: string; paramTypes: number[] } {
  const r = new BodyReader(body);
  const name = r.cstring();
  return { name, text: prefixText(body, r.offset), paramTypes: [] };
}

function mergeExtras(a: Record<string, unknown> | null | undefined, b: Record<string, unknown> | null): Record<string, unknown> | null {
  if (!a) return b;
  if (!b) return a;
  return { ...a, ...b };
}

/**
 * What a quarantined client message keeps: statements (Query, Parse) as redacted text, Bind not at all
 * (its values may be secrets), other messages as base64.
 */
function rawOf(code: number, body: Buffer): string {
  if (code === Frontend.Query || code === Frontend.Parse) return scrubText(body.toString('utf8'));
  if (code === Frontend.Bind || code === Frontend.Password) return '';
  return body.toString('base64');
}
