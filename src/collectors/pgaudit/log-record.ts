/**
 * One record of a PostgreSQL server log, whatever format it came in (csvlog, jsonlog, stderr). The
 * three readers produce this shape; `map-record.ts` turns it into an audit event. Absent values are
 * null, never empty strings, so the formats normalize the same way.
 */
export interface LogRecord {
  /** Log time as the file writes it; parsed by the mapper. */
  timeText: string;
  user: string | null;
  database: string | null;
  pid: number | null;
  /** Client host or address, `[local]` for Unix sockets. */
  host: string | null;
  port: number | null;
  sessionId: string | null;
  lineNum: number | null;
  commandTag: string | null;
  sessionStart: string | null;
  vxid: string | null;
  txid: number | null;
  /** LOG, ERROR, FATAL, ... */
  severity: string;
  /** SQLSTATE, when the format carries it (csvlog, jsonlog; not the RDS stderr prefix). */
  sqlstate: string | null;
  message: string;
  detail: string | null;
  hint: string | null;
  context: string | null;
  /** The statement the message is about (csvlog `query`, jsonlog `statement`, stderr `STATEMENT:`). */
  statement: string | null;
  /** Error position within the statement (csvlog `query_pos`, stderr ` at character N`). */
  cursorPosition: number | null;
  applicationName: string | null;
  backendType: string | null;
  queryId: string | null;
  leaderPid: number | null;
}

/** A record with every optional value absent. */
export function emptyLogRecord(timeText: string, severity: string, message: string): LogRecord {
  return {
    timeText,
    user: null,
    database: null,
    pid: null,
    host: null,
    port: null,
    sessionId: null,
    lineNum: null,
    commandTag: null,
    sessionStart: null,
    vxid: null,
    txid: null,
    severity,
    sqlstate: null,
    message,
    detail: null,
    hint: null,
    context: null,
    statement: null,
    cursorPosition: null,
    applicationName: null,
    backendType: null,
    queryId: null,
    leaderPid: null,
  };
}

/** An integer from log text, or null when empty or not a whole number within the safe range. */
export function intOrNull(text: string | null | undefined): number | null {
  if (text === null || text === undefined || text === '') return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

const INT32_MAX = 2_147_483_647;

/**
 * Why a record's numbers cannot be stored, or null. Pids and ports are 32-bit columns; a value outside
 * that range is garbage in the log, and writing it would fail the whole Parquet file.
 */
export function badNumbers(rec: LogRecord): string | null {
  if (rec.pid !== null && (rec.pid < 0 || rec.pid > INT32_MAX)) return `process id ${rec.pid} is out of range`;
  if (rec.port !== null && (rec.port < 0 || rec.port > 65_535)) return `client port ${rec.port} is out of range`;
  if (rec.leaderPid !== null && (rec.leaderPid < 0 || rec.leaderPid > INT32_MAX)) return `leader pid ${rec.leaderPid} is out of range`;
  return null;
}

/** Empty text is absent. */
export function textOrNull(text: string | null | undefined): string | null {
  return text === null || text === undefined || text === '' ? null : text;
}
