import { detach } from '../../schema/detach.js';
import {
  type AuditEvent,
  type EventClass,
  eventId,
  idKey,
  NO_POLICY_IDS,
  parseTimestampMicros,
  type SourceFormat,
} from '../../schema/index.js';
import { AUDIT_PREFIX, type AuditFields, parseAuditMessage } from './audit-message.js';
import { badNumbers, type LogRecord } from './log-record.js';
import { parseAuthFailure, parseConnectionAuthorized, parseDisconnection } from './server-messages.js';

/** What the mapper needs beyond the record. */
export interface MapContext {
  format: SourceFormat;
  /** Id key of the input (see `idKey`). */
  key: string;
  ingestTime: number;
  clusterId: string | null;
  instanceId: string | null;
}

/** A record becomes an event, is skipped on purpose (with the reason it is counted under), or is rejected. */
export type Mapped = { event: AuditEvent } | { skip: string } | { reject: string };

/** Reason under which ordinary server log lines (checkpoints, autovacuum, ...) are counted. */
export const SKIP_SERVER_LINE = 'server log line (not an audit event)';

const ERROR_SEVERITIES = new Set(['ERROR', 'FATAL', 'PANIC']);

/**
 * Source fields with no column of their own, as a JSON object text; null when there are none. Built
 * as text directly: this runs for every event, and an object plus `JSON.stringify` costs twice as much.
 */
function extras(rec: LogRecord, more: Record<string, string | number | undefined> | null): string | null {
  let json = '';
  const add = (key: string, value: string) => {
    json += `${json ? ',' : '{'}"${key}":${value}`;
  };
  if (rec.lineNum !== null) add('session_line_num', String(rec.lineNum));
  if (rec.vxid !== null) add('virtual_transaction_id', JSON.stringify(rec.vxid));
  if (rec.sessionStart !== null) add('session_start', JSON.stringify(rec.sessionStart));
  if (rec.backendType !== null) add('backend_type', JSON.stringify(rec.backendType));
  if (rec.queryId !== null && rec.queryId !== '0') add('query_id', JSON.stringify(rec.queryId));
  if (rec.leaderPid !== null) add('leader_pid', String(rec.leaderPid));
  if (rec.detail !== null) add('detail', JSON.stringify(rec.detail));
  if (rec.hint !== null) add('hint', JSON.stringify(rec.hint));
  if (rec.context !== null) add('context', JSON.stringify(rec.context));
  if (rec.cursorPosition !== null) add('cursor_position', String(rec.cursorPosition));
  if (more) for (const [key, value] of Object.entries(more)) if (value !== undefined) add(key, JSON.stringify(value));
  return json ? `${json}}` : null;
}

/** Session keys of recent sessions: a session's lines are many, and hashing is the costly part of an id. */
const sessionKeys = new Map<string, string>();

/**
 * The event's id. A csvlog or jsonlog record (and a stderr record whose prefix has `%c` and `%l`) carries
 * its own identity: its session id (process start time and pid) and its line number within the session,
 * unique on one server; with the configured cluster and instance, the id derives from those, so the
 * same record shipped twice in different files (a rotated log and its re-shipped copy) gets the same id.
 * A record without them is numbered within its input (`ordinal`, under the input's key).
 */
function recordEventId(rec: LogRecord, ordinal: number, ctx: MapContext): string {
  if (rec.sessionId === null || rec.lineNum === null || rec.lineNum < 0) return eventId(ctx.key, ordinal);
  const name = `${ctx.clusterId ?? ''}\u0000${ctx.instanceId ?? ''}\u0000${rec.sessionId}`;
  let key = sessionKeys.get(name);
  if (key === undefined) {
    key = idKey('pg-session', ctx.clusterId ?? '', ctx.instanceId ?? '', rec.sessionId);
    if (sessionKeys.size >= 10_000) sessionKeys.clear();
    // Detached: the name is cut from the input chunk, and as a key it would keep that whole chunk alive
    // (one per session: the heap grew with the input, ~110 MB after 294 MB of csvlog).
    sessionKeys.set(detach(name), key);
  }
  return eventId(key, rec.lineNum);
}

function baseEvent(rec: LogRecord, time: number, eventClass: EventClass, ordinal: number, sourceRef: string, ctx: MapContext): AuditEvent {
  return {
    event_id: recordEventId(rec, ordinal, ctx),
    schema_version: 1,
    event_time: time,
    ingest_time: ctx.ingestTime,
    source_format: ctx.format,
    source_ref: sourceRef,
    cluster_id: ctx.clusterId,
    instance_id: ctx.instanceId,
    server_host: null,
    session_id: rec.sessionId,
    process_id: rec.pid,
    database_name: rec.database,
    db_user: rec.user,
    client_addr: rec.host,
    client_port: rec.port,
    application_name: rec.applicationName,
    event_class: eventClass,
    command: null,
    object_type: null,
    object_name: null,
    statement_text: null,
    parameters: null,
    statement_id: null,
    substatement_id: null,
    transaction_id: rec.txid === 0 ? null : rec.txid,
    success: true,
    row_count: null,
    error_code: null,
    error_message: null,
    duration_ms: null,
    audit_type: null,
    raw_extras: null,
    policy_ids: NO_POLICY_IDS,
    source: 'pgaudit',
  };
}

function auditEvent(rec: LogRecord, audit: AuditFields, event: AuditEvent): AuditEvent {
  event.command = audit.command;
  event.object_type = audit.objectType;
  event.object_name = audit.objectName;
  event.statement_text = audit.statement;
  event.parameters = audit.parameters;
  event.statement_id = audit.statementId;
  event.substatement_id = audit.substatementId;
  event.row_count = audit.rows;
  event.audit_type = audit.auditType;
  const more =
    audit.auditClass || audit.placeholder
      ? { audit_class: audit.auditClass ?? undefined, not_logged: audit.placeholder ?? undefined }
      : null;
  event.raw_extras = extras(rec, more);
  return event;
}

/**
 * Maps one server log record to schema v1: AUDIT lines, `connection authorized` (CONNECT),
 * `disconnection` (DISCONNECT), failed logins (AUTH_FAILURE) and ERROR/FATAL/PANIC lines (ERROR).
 * Every other line is skipped on purpose and counted.
 */
export function mapLogRecord(rec: LogRecord, ordinal: number, sourceRef: string, ctx: MapContext): Mapped {
  const time = parseTimestampMicros(rec.timeText);
  if (time === null)
    return { reject: `unreadable log time ${JSON.stringify(rec.timeText)} (log_timezone must be UTC or a numeric offset)` };
  if (time < 0) return { reject: `log time ${JSON.stringify(rec.timeText)} is before 1970` };
  const numbers = badNumbers(rec);
  if (numbers) return { reject: numbers };
  const message = rec.message;

  if (message.startsWith(AUDIT_PREFIX)) {
    const audit = parseAuditMessage(message.slice(AUDIT_PREFIX.length));
    if (typeof audit === 'string') return { reject: audit };
    return { event: auditEvent(rec, audit, baseEvent(rec, time, audit.eventClass, ordinal, sourceRef, ctx)) };
  }

  if (rec.severity === 'LOG') {
    const connected = parseConnectionAuthorized(message);
    if (connected) {
      const event = baseEvent(rec, time, 'CONNECT', ordinal, sourceRef, ctx);
      event.db_user = rec.user ?? connected.user;
      event.database_name = rec.database ?? connected.database;
      event.application_name = rec.applicationName ?? connected.applicationName;
      event.command = connected.replication ? 'REPLICATION CONNECT' : 'CONNECT';
      event.raw_extras = extras(rec, connected.tls ? { tls: connected.tls } : null);
      return { event };
    }
    const disconnected = parseDisconnection(message);
    if (disconnected) {
      const event = baseEvent(rec, time, 'DISCONNECT', ordinal, sourceRef, ctx);
      event.db_user = rec.user ?? disconnected.user;
      event.database_name = rec.database ?? disconnected.database;
      event.client_addr = rec.host ?? disconnected.host;
      event.client_port = rec.port ?? disconnected.port;
      event.command = 'DISCONNECT';
      event.duration_ms = disconnected.durationMs;
      event.raw_extras = extras(rec, null);
      return { event };
    }
    return { skip: SKIP_SERVER_LINE };
  }

  if (!ERROR_SEVERITIES.has(rec.severity)) return { skip: SKIP_SERVER_LINE };

  const failure = rec.severity === 'FATAL' ? parseAuthFailure(message, rec.sqlstate) : null;
  const event = baseEvent(rec, time, failure ? 'AUTH_FAILURE' : 'ERROR', ordinal, sourceRef, ctx);
  event.success = false;
  event.error_code = failure ? failure.sqlstate : rec.sqlstate;
  event.error_message = message;
  event.raw_extras = extras(rec, { severity: rec.severity });
  if (failure) {
    event.command = 'CONNECT';
    event.db_user = rec.user ?? failure.user;
    event.database_name = rec.database ?? failure.database;
    event.client_addr = rec.host ?? failure.host;
  } else {
    event.command = rec.commandTag;
    event.statement_text = rec.statement;
  }
  return { event };
}
