/**
 * The server log lines that are audit events without pgAudit: connections, disconnections and failed
 * logins. Message texts are PostgreSQL's (src/backend/utils/init/postinit.c, src/backend/libpq/auth.c,
 * src/backend/tcop/postgres.c); they are logged untranslated when lc_messages is C or en, which the
 * README asks for.
 */

/** `connection authorized: user=u database=d application_name=a[ SSL enabled (...)]`. */
export interface ConnectionAuthorized {
  user: string;
  database: string | null;
  applicationName: string | null;
  replication: boolean;
  tls: string | null;
}

const AUTHORIZED =
  /^(replication )?connection authorized: user=(\S*)(?: database=(\S*))?(?: application_name=(.*?))?(?: (SSL enabled \(.*\)|GSS .*))?$/s;

/** Parses a `connection authorized` message, or returns null when the message is another one. */
export function parseConnectionAuthorized(message: string): ConnectionAuthorized | null {
  if (!message.includes('connection authorized: ')) return null;
  const m = AUTHORIZED.exec(message);
  if (!m) return null;
  return { replication: Boolean(m[1]), user: m[2], database: m[3] ?? null, applicationName: m[4] ?? null, tls: m[5] ?? null };
}

/** `disconnection: session time: 0:00:01.740 user=u database=d host=h[ port=p]`. */
export interface Disconnection {
  durationMs: number;
  user: string | null;
  database: string | null;
  host: string | null;
  port: number | null;
}

const DISCONNECTION = /^disconnection: session time: (\d+):(\d\d):(\d\d(?:\.\d+)?) user=(\S*) database=(\S*) host=(\S*)(?: port=(\d+))?$/;

/** Parses a `disconnection` message, or returns null when the message is another one. */
export function parseDisconnection(message: string): Disconnection | null {
  if (!message.startsWith('disconnection: ')) return null;
  const m = DISCONNECTION.exec(message);
  if (!m) return null;
  const durationMs = Math.round((Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000 * 1000) / 1000;
  return { durationMs, user: m[4] || null, database: m[5] || null, host: m[6] || null, port: m[7] ? Number(m[7]) : null };
}

/** What a failed-login message tells: its SQLSTATE (when the log format did not carry it) and the names in it. */
export interface AuthFailure {
  sqlstate: string;
  user: string | null;
  database: string | null;
  host: string | null;
}

const AUTH_FAILURES: readonly { pattern: RegExp; sqlstate: string; groups: readonly ('user' | 'database' | 'host')[] }[] = [
  { pattern: /^password authentication failed for user "(.*)"$/s, sqlstate: '28P01', groups: ['user'] },
  { pattern: /^[\w-]+ authentication failed for user "(.*)"$/s, sqlstate: '28000', groups: ['user'] },
  {
    pattern: /^no pg_hba\.conf entry for (?:replication connection from )?host "(.*?)", user "(.*?)"(?:, database "(.*?)")?/s,
    sqlstate: '28000',
    groups: ['host', 'user', 'database'],
  },
  {
    pattern: /^pg_hba\.conf rejects (?:replication )?connection for host "(.*?)", user "(.*?)"(?:, database "(.*?)")?/s,
    sqlstate: '28000',
    groups: ['host', 'user', 'database'],
  },
  { pattern: /^role "(.*)" does not exist$/s, sqlstate: '28000', groups: ['user'] },
  { pattern: /^role "(.*)" is not permitted to log in$/s, sqlstate: '28000', groups: ['user'] },
  { pattern: /^database "(.*)" does not exist$/s, sqlstate: '3D000', groups: ['database'] },
];

/** True for the SQLSTATEs of a refused login: class 28 (invalid authorization) and 3D000 (no such database). */
export function isAuthFailureState(sqlstate: string | null): boolean {
  return sqlstate !== null && (sqlstate.startsWith('28') || sqlstate === '3D000');
}

/**
 * Recognizes a FATAL message as a failed login. `sqlstate` is the one the log carried, if any: with it,
 * any class-28 or 3D000 FATAL is a failed login; without it (the RDS stderr prefix has no %e), the
 * message text decides.
 */
export function parseAuthFailure(message: string, sqlstate: string | null): AuthFailure | null {
  for (const { pattern, sqlstate: implied, groups } of AUTH_FAILURES) {
    const m = pattern.exec(message);
    if (!m) continue;
    const found: AuthFailure = { sqlstate: sqlstate ?? implied, user: null, database: null, host: null };
    groups.forEach((name, i) => {
      found[name] = m[i + 1] ?? null;
    });
    return found;
  }
  return isAuthFailureState(sqlstate) ? { sqlstate: sqlstate as string, user: null, database: null, host: null } : null;
}
