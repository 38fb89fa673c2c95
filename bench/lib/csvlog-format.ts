/**
 * The bytes PostgreSQL 15 writes for one csvlog record (26 columns) and pgAudit for one AUDIT message,
 * quoted exactly as the real fixture `fixtures/pgaudit/pg15.csv` shows:
 *  - csvlog (src/backend/utils/error/csvlog.c): text columns are always quoted when not NULL (inner `"`
 *    doubled), NULL is an empty unquoted field, numbers and the timestamps are never quoted;
 *  - pgAudit (`append_valid_csv` in pgaudit.c): a field is quoted only when it holds `,` `"` CR or LF, and
 *    PARAMETER is a CSV row of the parameters quoted once more, so csvlog's `message` shows three layers of
 *    quote doubling.
 */

/** A csvlog text column: quoted with inner quotes doubled; null is an empty field. */
export function csvText(value: string | null | undefined): string {
  if (value == null) return '';
  return value.includes('"') ? `"${value.replaceAll('"', '""')}"` : `"${value}"`;
}

/** pgAudit's `append_valid_csv`: quote only when the value holds a comma, quote, CR or LF. */
export function pgauditField(value: string): string {
  if (!/[,"\r\n]/.test(value)) return value;
  return `"${value.replaceAll('"', '""')}"`;
}

/** PARAMETER as pgAudit prints it before quoting it as one field: NULL (and `''`) are empty slots. */
export function pgauditParameterList(params: readonly (string | null)[]): string {
  return params.map((p) => (p === null ? '' : pgauditField(p))).join(',');
}

/** One csvlog record; columns not listed are NULL (internal_query, its position, location, leader_pid). */
export interface CsvlogRow {
  /** log_time in epoch milliseconds. */
  time: number;
  user: string | null;
  database: string | null;
  pid: number;
  /** `host:port`, `[local]`, or null for background processes. */
  connectionFrom: string | null;
  sessionId: string;
  lineNum: number;
  /** The ps display (`SELECT`, `authentication`, `idle`, `` before authentication); null for background processes. */
  commandTag: string | null;
  /** session_start_time, already formatted (`YYYY-MM-DD HH:MM:SS UTC`). */
  sessionStart: string;
  vxid: string | null;
  txid: number;
  severity: 'LOG' | 'ERROR' | 'FATAL';
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
  context?: string;
  query?: string;
  queryPos?: number;
  applicationName: string | null;
  backendType: string;
}

let cachedSecond = -1;
let cachedSecondText = '';

/** `YYYY-MM-DD HH:MM:SS` of epoch milliseconds, cached per second (log lines come in time order). */
export function formatSecond(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedSecondText = new Date(second * 1000).toISOString().slice(0, 19).replace('T', ' ');
  }
  return cachedSecondText;
}

/** csvlog's log_time: `2024-05-01 10:15:02.123 UTC`. */
export function formatLogTime(ms: number): string {
  return `${formatSecond(ms)}.${String(ms % 1000).padStart(3, '0')} UTC`;
}

/** session_start_time: `2024-05-01 10:10:54 UTC` (no milliseconds). */
export function formatSessionStart(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** csvlog's session_id: hex of the session start (epoch seconds) and of the pid. */
export function sessionIdOf(startMs: number, pid: number): string {
  return `${Math.floor(startMs / 1000).toString(16)}.${pid.toString(16)}`;
}

/** One csvlog line with its newline, in the 26-column PostgreSQL 14+ layout. */
export function csvlogLine(r: CsvlogRow): string {
  return (
    [
      formatLogTime(r.time),
      csvText(r.user),
      csvText(r.database),
      r.pid,
      csvText(r.connectionFrom),
      r.sessionId,
      r.lineNum,
      csvText(r.commandTag),
      r.sessionStart,
      r.vxid ?? '',
      r.txid,
      r.severity,
      r.sqlstate,
      csvText(r.message),
      csvText(r.detail),
      csvText(r.hint),
      '', // internal_query
      '', // internal_query_pos
      csvText(r.context),
      csvText(r.query),
      r.queryPos ?? '',
      '', // location (only with log_error_verbosity = verbose)
      csvText(r.applicationName),
      csvText(r.backendType),
      '', // leader_pid (parallel workers only)
      '0', // query_id (compute_query_id off)
    ].join(',') + '\n'
  );
}
