import type { AuditEvent, EventClass } from '../schema/index.js';
import { eventId, NO_POLICY_IDS, SCHEMA_VERSION } from '../schema/index.js';

/**
 * The facts of one proxied session and the factory of its events. Every event of a session shares
 * these fields; `eventId(key, n)` numbers them without hashing per event.
 */

/** What the proxy knows of a session when it accepts the client. */
export interface SessionInfo {
  /** `<hex session start seconds>.<hex counter>`, shaped like PostgreSQL's `%c`. */
  sessionId: string;
  /** `idKey` of the proxy instance and session id. */
  key: string;
  /** Prefix of `source_ref`: `proxy:<instance>/<session id>`. */
  refPrefix: string;
  clientAddr: string | null;
  clientPort: number | null;
  /** Upstream server as `host:port`. */
  serverHost: string;
  /** When the client connected, microseconds since the epoch. */
  startMicros: number;
  /** Whether the client's connection to the proxy is TLS. */
  clientTls: boolean;
}

/** Connection facts learned from the startup exchange. */
export interface SessionIdentity {
  user: string | null;
  database: string | null;
  applicationName: string | null;
  processId: number | null;
}

/** Wall-clock time in microseconds: `performance` gives sub-millisecond precision where `Date.now()` does not. */
export function clockMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Fields an event builder sets beyond the session's. */
export interface EventFacts {
  eventClass: EventClass;
  time: number;
  ref: string;
  success: boolean;
  command?: string | null;
  objectType?: string | null;
  text?: string | null;
  parameters?: string[] | null;
  statementId?: number | null;
  substatementId?: number | null;
  rows?: number | null;
  errorCode?: string | null;
  errorMessage?: string | null;
  durationMs?: number | null;
  extras?: Record<string, unknown> | null;
}

/** Builds the `n`th event of a session. Fields are assigned in schema order so every event shares one shape. */
/** Session events name their command as the pgAudit and DAS collectors do, so one query finds all. */
const SESSION_COMMANDS: Partial<Record<string, string>> = { CONNECT: 'CONNECT', AUTH_FAILURE: 'CONNECT', DISCONNECT: 'DISCONNECT' };

export function buildEvent(info: SessionInfo, who: SessionIdentity, n: number, f: EventFacts, ingestTime: number): AuditEvent {
  return {
    event_id: eventId(info.key, n),
    schema_version: SCHEMA_VERSION,
    event_time: f.time,
    ingest_time: ingestTime,
    source_format: 'proxy',
    source_ref: f.ref,
    cluster_id: null,
    instance_id: null,
    server_host: info.serverHost,
    session_id: info.sessionId,
    process_id: who.processId,
    database_name: who.database,
    db_user: who.user,
    client_addr: info.clientAddr,
    client_port: info.clientPort,
    application_name: who.applicationName,
    event_class: f.eventClass,
    command: f.command ?? SESSION_COMMANDS[f.eventClass] ?? null,
    object_type: f.objectType ?? null,
    object_name: null,
    statement_text: f.text ?? null,
    parameters: f.parameters ?? null,
    statement_id: f.statementId ?? null,
    substatement_id: f.substatementId ?? null,
    transaction_id: null,
    success: f.success,
    row_count: f.rows ?? null,
    error_code: f.errorCode ?? null,
    error_message: f.errorMessage ?? null,
    duration_ms: f.durationMs ?? null,
    audit_type: null,
    raw_extras: f.extras ? JSON.stringify(f.extras) : null,
    policy_ids: NO_POLICY_IDS,
    source: 'proxy',
  };
}
