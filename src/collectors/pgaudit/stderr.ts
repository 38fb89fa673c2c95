import { emptyLogRecord, type LogRecord } from './log-record.js';

/**
 * The stderr log with the RDS/Aurora prefix `%t:%r:%u@%d:[%p]:` (what CloudWatch Logs receives):
 * `2024-05-01 10:15:02 UTC:10.0.1.25(51544):app_user@appdb:[4321]:LOG:  AUDIT: ...`.
 * A record starts only on a line that begins with the prefix; continuation lines of a multi-line
 * message start with a TAB; DETAIL, HINT, CONTEXT, STATEMENT and QUERY arrive as their own prefixed
 * lines after the record they belong to (same pid) and are attached to it.
 */

// %t ends in a zone abbreviation or numeric offset (never a colon), %r is host(port), [local] or empty;
// an IPv6 host holds colons, so the host is matched up to its (port) rather than to the next colon.
const PREFIX =
  /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [A-Za-z0-9+-]+):(\[local\]|[^():@]*(?::[^():@]*)*\(\d+\)|[^:]*):([^@]*)@(.*?):\[(\d*)\]:([A-Z0-9]+): {1,2}(.*)$/s;
const HOST_PORT = /^(.*)\((\d+)\)$/;
const AT_CHARACTER = / at character (\d+)$/;

/** Severities that continue the previous record rather than start one. */
const ATTACHED: Readonly<Record<string, 'detail' | 'hint' | 'context' | 'statement' | 'internal'>> = {
  DETAIL: 'detail',
  HINT: 'hint',
  CONTEXT: 'context',
  STATEMENT: 'statement',
  QUERY: 'internal',
  LOCATION: 'internal',
};

/** A complete record, or a line that cannot be read, with the reference of its first line. */
export type StderrItem<Ref> =
  | { ok: true; record: LogRecord; ref: Ref; raw: string; invalidUtf8: boolean }
  | { ok: false; reason: string; ref: Ref; raw: string };

interface Pending<Ref> {
  record: LogRecord;
  ref: Ref;
  raw: string[];
  /** Where a TAB continuation line goes: the message or the last attached field. */
  field: 'message' | 'detail' | 'hint' | 'context' | 'statement' | 'internal';
  invalidUtf8: boolean;
}

/** Parses one prefixed line; null when the line has no prefix. */
export function parsePrefixedLine(line: string): { record: LogRecord } | null {
  const m = PREFIX.exec(line);
  if (!m) return null;
  const [, time, remote, user, database, pid, severity, message] = m;
  const record = emptyLogRecord(time, severity, message);
  if (remote === '[local]') record.host = remote;
  else if (remote !== '') {
    const hp = HOST_PORT.exec(remote);
    record.host = hp ? hp[1] : remote;
    record.port = hp ? Number(hp[2]) : null;
  }
  // Before authentication the backend logs `[unknown]` for user and database.
  record.user = user === '' || user === '[unknown]' ? null : user;
  record.database = database === '' || database === '[unknown]' ? null : database;
  record.pid = pid === '' ? null : Number(pid);
  return { record };
}

/** Groups stderr lines into records. Feed lines with a reference (line number, CloudWatch event id). */
export class StderrReader<Ref> {
  private pending: Pending<Ref> | null = null;
  /** A line without prefix being rejected, with the continuation lines that follow it. */
  private garbage: { ref: Ref; raw: string[]; reason: string } | null = null;

  /** Adds one line (without its newline); returns the record it completed, if any. */
  push(line: string, ref: Ref): StderrItem<Ref> | null {
    if (line.length > 0 && line.charCodeAt(0) === 9) {
      if (this.garbage) {
        this.garbage.raw.push(line);
        return null;
      }
      const p = this.pending;
      if (!p) return { ok: false, reason: 'continuation line (TAB) with no record before it', ref, raw: line };
      const text = line.slice(1);
      const r = p.record;
      if (p.field === 'message') r.message += `\n${text}`;
      else if (p.field === 'internal') p.raw.push(line);
      else r[p.field] = `${r[p.field] ?? ''}\n${text}`;
      if (p.field !== 'internal') p.raw.push(line);
      return null;
    }
    const parsed = parsePrefixedLine(line);
    if (!parsed) {
      if (line === '' || line === '\r') return null;
      // The record before it ends here; the line and its continuation lines are rejected together,
      // so they are not glued onto that record.
      const done = this.flush();
      this.garbage = { ref, raw: [line], reason: 'line has no log prefix %t:%r:%u@%d:[%p]: and is not a continuation' };
      return done;
    }
    const attach = ATTACHED[parsed.record.severity];
    const p = this.pending;
    if (attach && p && p.record.pid === parsed.record.pid) {
      if (attach !== 'internal') p.record[attach] = parsed.record.message;
      p.field = attach;
      p.raw.push(line);
      return null;
    }
    const done = this.flush();
    this.pending = { record: parsed.record, ref, raw: [line], field: 'message', invalidUtf8: false };
    return done;
  }

  /** Marks the record being read as holding bytes that were not valid UTF-8, so it is rejected. */
  markInvalidUtf8(): boolean {
    if (this.garbage) return true;
    if (this.pending) this.pending.invalidUtf8 = true;
    return this.pending !== null;
  }

  /** Completes the last record (or rejected line), if any. */
  flush(): StderrItem<Ref> | null {
    const g = this.garbage;
    if (g) {
      this.garbage = null;
      return { ok: false, reason: g.reason, ref: g.ref, raw: g.raw.join('\n') };
    }
    const p = this.pending;
    this.pending = null;
    if (!p) return null;
    const r = p.record;
    if (r.severity === 'ERROR' || r.severity === 'FATAL') {
      // stderr appends the error position to the message; csvlog and jsonlog keep it in a column.
      const at = AT_CHARACTER.exec(r.message);
      if (at && r.statement !== null) {
        r.message = r.message.slice(0, at.index);
        r.cursorPosition = Number(at[1]);
      }
    }
    return { ok: true, record: r, ref: p.ref, raw: p.raw.join('\n'), invalidUtf8: p.invalidUtf8 };
  }
}
