import type { LogRecord } from './log-record.js';

/**
 * jsonlog (PostgreSQL 15+): one JSON object per line; keys with no value are omitted, and
 * `state_code` is omitted for 00000. https://www.postgresql.org/docs/current/runtime-config-logging.html#RUNTIME-CONFIG-LOGGING-JSONLOG
 */

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
}

/** A whole number (PostgreSQL writes pids, ports, txids and positions as JSON integers). */
function num(v: unknown): number | null {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d{1,15}$/.test(v)) return Number(v);
  return null;
}

/** One jsonlog line as a {@link LogRecord}, or a reason when it is not a jsonlog record. */
export function jsonLineToRecord(line: string): LogRecord | string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line);
  } catch (e) {
    return `not valid JSON: ${(e as Error).message}`;
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return 'jsonlog line is not a JSON object';
  if (typeof o.timestamp !== 'string') return 'jsonlog record has no "timestamp"';
  if (typeof o.error_severity !== 'string') return 'jsonlog record has no "error_severity"';
  if (typeof o.message !== 'string') return 'jsonlog record has no "message"';
  const state = str(o.state_code);
  return {
    timeText: o.timestamp,
    user: str(o.user),
    database: str(o.dbname),
    pid: num(o.pid),
    host: str(o.remote_host),
    port: num(o.remote_port),
    sessionId: str(o.session_id),
    lineNum: num(o.line_num),
    commandTag: str(o.ps),
    sessionStart: str(o.session_start),
    vxid: str(o.vxid),
    txid: num(o.txid),
    severity: o.error_severity,
    sqlstate: state === '00000' ? null : state,
    message: o.message,
    detail: str(o.detail),
    hint: str(o.hint),
    context: str(o.context),
    statement: str(o.statement),
    cursorPosition: num(o.cursor_position),
    applicationName: str(o.application_name),
    backendType: str(o.backend_type),
    queryId: str(o.query_id),
    leaderPid: num(o.leader_pid),
  };
}
