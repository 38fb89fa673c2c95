import { formatMicros, parseTimestampMicros } from '../../schema/index.js';
import type { LogRecord } from './log-record.js';

/**
 * Session keys for server logs that carry no session id: the RDS/Aurora stderr prefix `%t:%r:%u@%d:[%p]:`
 * has no `%c`. A backend process serves one connection, so a session is a pid between the connection's
 * start and its end:
 *
 * - `connection received` (logged by the new backend before authentication) starts a session of that pid,
 *   whatever was open for it before (the pid was reused);
 * - any other record of a pid with no open session starts one at its own time (the connection's start was
 *   not in this input: `log_connections` off, or a log that begins mid-session);
 * - `disconnection` ends the pid's session after the record.
 *
 * The key is `<pid>@<start, ISO-8601 UTC>`, e.g. `8887@2026-11-22T00:55:46Z`: it cannot be mistaken for a
 * PostgreSQL `%c` (`6b023d92.22b7`), and the same log gives the same keys on every run. State lives per
 * input (and per CloudWatch log stream), so a session spread over two inputs (a rotated log) gets one
 * key in each, the second one starting at its first record there.
 */
export class SessionKeys {
  private readonly open = new Map<number, string>();

  /** Gives `record` the key of its pid's session, unless it has a session id of its own or no pid. */
  assign(record: LogRecord): void {
    if (record.sessionId !== null || record.pid === null) return;
    const pid = record.pid;
    const received = record.severity === 'LOG' && record.message.startsWith('connection received:');
    let key = received ? undefined : this.open.get(pid);
    if (key === undefined) {
      const start = parseTimestampMicros(record.timeText);
      if (start === null) return; // the mapper rejects a record whose time cannot be read
      key = sessionKey(pid, start);
      this.open.set(pid, key);
    }
    record.sessionId = key;
    if (record.severity === 'LOG' && record.message.startsWith('disconnection:')) this.open.delete(pid);
  }
}

/** `<pid>@<start>`, the start in ISO-8601 UTC without a fraction of zero (log times are often whole seconds). */
export function sessionKey(pid: number, startMicros: number): string {
  return `${pid}@${formatMicros(startMicros).replace(/\.?0+Z$/, 'Z')}`;
}
