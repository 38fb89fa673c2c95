import type { LogRecord } from './log-record.js';
import { intOrNull, textOrNull } from './log-record.js';

/**
 * csvlog columns (PostgreSQL 13: 24; 14 and later add leader_pid and query_id: 26).
 * https://www.postgresql.org/docs/current/runtime-config-logging.html#RUNTIME-CONFIG-LOGGING-CSVLOG
 */
export const CSVLOG_COLUMNS_PG13 = 24;
export const CSVLOG_COLUMNS_PG14 = 26;

/** Splits csvlog's `connection_from` (`host:port`, or `[local]`) at its last colon. */
export function splitConnectionFrom(text: string): { host: string | null; port: number | null } {
  if (text === '') return { host: null, port: null };
  const colon = text.lastIndexOf(':');
  if (colon > 0) {
    const port = text.slice(colon + 1);
    if (port !== '' && /^\d+$/.test(port)) return { host: text.slice(0, colon), port: Number(port) };
  }
  return { host: text, port: null };
}

/** A csvlog record's fields as a {@link LogRecord}, or a reason when the column count is wrong. */
export function csvFieldsToRecord(f: string[]): LogRecord | string {
  if (f.length !== CSVLOG_COLUMNS_PG13 && f.length !== CSVLOG_COLUMNS_PG14) {
    return `csvlog record has ${f.length} columns, expected ${CSVLOG_COLUMNS_PG13} (PostgreSQL 13) or ${CSVLOG_COLUMNS_PG14} (14 and later)`;
  }
  const { host, port } = splitConnectionFrom(f[4]);
  const wide = f.length === CSVLOG_COLUMNS_PG14;
  return {
    timeText: f[0],
    user: textOrNull(f[1]),
    database: textOrNull(f[2]),
    pid: intOrNull(f[3]),
    host,
    port,
    sessionId: textOrNull(f[5]),
    lineNum: intOrNull(f[6]),
    commandTag: textOrNull(f[7]),
    sessionStart: textOrNull(f[8]),
    vxid: textOrNull(f[9]),
    txid: intOrNull(f[10]),
    severity: f[11],
    sqlstate: f[12] === '' || f[12] === '00000' ? null : f[12],
    message: f[13],
    detail: textOrNull(f[14]),
    hint: textOrNull(f[15]),
    context: textOrNull(f[18]),
    statement: textOrNull(f[19]),
    cursorPosition: intOrNull(f[20]),
    applicationName: textOrNull(f[22]),
    backendType: textOrNull(f[23]),
    leaderPid: wide ? intOrNull(f[24]) : null,
    queryId: wide ? textOrNull(f[25]) : null,
  };
}
