/**
 * The compliance reports, each declared once as SQL over `audit_events` that runs in DuckDB
 * (`auditlake report`) and, with the same meaning, in Athena (the saved queries `infra/` deploys).
 * Every report takes the period as two parameters, the first and the last day (`YYYY-MM-DD`,
 * inclusive), in that order: `event_date BETWEEN ? AND ?`. DuckDB binds them; Athena's console asks
 * for them when a saved query runs. The few functions that differ between the engines go through
 * {@link ReportDialect}; everything else is SQL both accept.
 */

/** The engines a report's SQL is written for. */
export type ReportEngine = 'duckdb' | 'athena';

/** What differs between DuckDB and Athena (Trino) in these reports. */
export interface ReportDialect {
  /** The distinct non-null values of a text column in a group, sorted, joined with `, `. */
  distinctText(column: string): string;
}

const DIALECTS: Record<ReportEngine, ReportDialect> = {
  duckdb: { distinctText: (c) => `string_agg(DISTINCT ${c}, ', ' ORDER BY ${c})` },
  // Trino's array_join leaves out null elements, and gives '' where DuckDB's string_agg gives NULL.
  athena: { distinctText: (c) => `nullif(array_join(array_sort(array_distinct(array_agg(${c}))), ', '), '')` },
};

/** Settings some reports take. */
export interface ReportSettings {
  /** Roles whose sessions `privileged-sessions` lists. */
  privilegedUsers: readonly string[];
  /** A failed-login burst is more than this many failures for one user and client within one clock hour. */
  burstThreshold: number;
  /** A read of at least this many rows counts as a data export. */
  largeReadRows: number;
}

export const DEFAULT_REPORT_SETTINGS: ReportSettings = {
  privilegedUsers: ['postgres', 'rdsadmin'],
  burstThreshold: 10,
  largeReadRows: 10_000,
};

/** One report. */
export interface ReportDefinition {
  /** The name `auditlake report <name>` takes (kebab-case). */
  name: string;
  title: string;
  /** What it answers, for `--help`, the HTML report and the saved query's description. */
  description: string;
  /** The SQL, with the period as two `?` parameters (first day, last day). */
  sql(engine: ReportEngine, settings: ReportSettings): string;
}

/** The period filter every report starts with. */
export const PERIOD = 'event_date BETWEEN ? AND ?';

/** SQL text literal (quotes doubled; backslashes are literal in both engines). */
export function sqlLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * One key per statement, in both engines: the session and pgAudit's statement id. pgAudit writes several
 * lines for one statement: a SESSION line and an OBJECT line when `pgaudit.role` audits the table, one
 * line per relation with `pgaudit.log_relation`, and one per substatement (the statements a function or
 * DO block runs; same statement id, rising substatement id). Counting distinct keys counts each
 * statement the client sent once. Events of the other sources, and pgAudit lines without a statement id
 * or session, are each their own statement (their event id).
 */
export const STATEMENT_KEY = `CASE WHEN audit_type IS NOT NULL AND statement_id IS NOT NULL AND session_id IS NOT NULL
    THEN concat(session_id, '/', CAST(statement_id AS VARCHAR)) ELSE event_id END`;

/**
 * One key per statement as the lists show them: like {@link STATEMENT_KEY}, but a substatement (a
 * statement a function or DO block ran) keeps a row of its own, since it has its own text. pgAudit's
 * SESSION and OBJECT lines and its per-relation lines of one statement become one row.
 */
export const STATEMENT_LINE_KEY = `CASE WHEN audit_type IS NOT NULL AND statement_id IS NOT NULL AND session_id IS NOT NULL
    THEN concat(session_id, '/', CAST(statement_id AS VARCHAR), '/', CAST(coalesce(substatement_id, 0) AS VARCHAR)) ELSE event_id END`;

/**
 * The columns of a statement list, one row per {@link STATEMENT_LINE_KEY}: the lines of one statement
 * agree on everything but the object (and the audit type), so each column is the group's one value,
 * and the objects are listed together. `min` keeps the SQL the same in both engines.
 */
function statementColumns(engine: ReportEngine, columns: readonly string[]): string {
  return columns
    .map((c) => {
      if (c === 'object_name') return `${DIALECTS[engine].distinctText('object_name')} AS object_name`;
      if (c === 'success') return 'bool_and(success) AS success';
      if (c === 'row_count') return 'max(row_count) AS row_count';
      return `min(${c}) AS ${c}`;
    })
    .join(', ');
}

/** A statement list: the filtered lines grouped into statements, in time order. */
function statementList(engine: ReportEngine, columns: readonly string[], where: string, extra = ''): string {
  return `SELECT ${statementColumns(engine, columns)}${extra}
FROM audit_events
WHERE ${PERIOD} AND ${where}
GROUP BY ${STATEMENT_LINE_KEY}
ORDER BY event_time, min(event_id)`;
}

/** Commands that change roles or privileges, whatever class a source gave them. */
const ROLE_COMMANDS = ['GRANT', 'REVOKE', 'CREATE ROLE', 'ALTER ROLE', 'DROP ROLE', 'CREATE USER', 'ALTER USER', 'DROP USER'];

/** Statements that switch the session's role (pgAudit logs them as MISC SET). */
const SET_ROLE = `(upper(statement_text) LIKE 'SET ROLE%' OR upper(statement_text) LIKE 'SET SESSION ROLE%' OR upper(statement_text) LIKE 'SET SESSION AUTHORIZATION%' OR upper(statement_text) LIKE 'RESET ROLE%')`;

/** A positive whole number written into SQL. */
function whole(n: number, what: string): string {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what}: expected a whole number, got ${n}`);
  return String(n);
}

/** Every report, in the order the HTML report shows them. */
export const REPORTS: readonly ReportDefinition[] = [
  {
    name: 'summary',
    title: 'Events per day and class',
    description: 'Per day and event class: events, distinct database users and distinct client addresses.',
    sql: () => `SELECT event_date, event_class, count(*) AS events,
       count(DISTINCT db_user) AS distinct_users, count(DISTINCT client_addr) AS distinct_clients
FROM audit_events
WHERE ${PERIOD}
GROUP BY event_date, event_class
ORDER BY event_date, event_class`,
  },
  {
    name: 'failed-logins',
    title: 'Failed logins',
    description: 'Per user and client address: failed login attempts, the first and the last, and their SQLSTATEs.',
    sql: (engine) => `SELECT db_user, client_addr, count(*) AS attempts,
       min(event_time) AS first_attempt, max(event_time) AS last_attempt,
       ${DIALECTS[engine].distinctText('error_code')} AS sqlstates
FROM audit_events
WHERE ${PERIOD} AND event_class = 'AUTH_FAILURE'
GROUP BY db_user, client_addr
ORDER BY attempts DESC, db_user, client_addr`,
  },
  {
    name: 'failed-login-bursts',
    title: 'Failed-login bursts',
    description: 'Clock hours in which one user from one client address failed to log in more often than the burst threshold.',
    sql: (_engine, s) => `SELECT date_trunc('hour', event_time) AS hour_start, db_user, client_addr, count(*) AS attempts,
       min(event_time) AS first_attempt, max(event_time) AS last_attempt
FROM audit_events
WHERE ${PERIOD} AND event_class = 'AUTH_FAILURE'
GROUP BY date_trunc('hour', event_time), db_user, client_addr
HAVING count(*) > ${whole(s.burstThreshold, 'burst threshold')}
ORDER BY hour_start, attempts DESC, db_user, client_addr`,
  },
  {
    name: 'user-activity',
    title: 'Activity per user',
    description:
      'Per database user: audit events, statements, reads, writes, DDL and role changes, failures (each statement once, however many audit lines pgAudit wrote for it), first and last activity, and the sources that saw them.',
    sql: (engine) => `SELECT db_user, count(*) AS events,
       count(DISTINCT CASE WHEN event_class NOT IN ('CONNECT', 'DISCONNECT', 'AUTH_FAILURE') THEN ${STATEMENT_KEY} END) AS statements,
       count(DISTINCT CASE WHEN event_class = 'READ' THEN ${STATEMENT_KEY} END) AS reads,
       count(DISTINCT CASE WHEN event_class = 'WRITE' THEN ${STATEMENT_KEY} END) AS writes,
       count(DISTINCT CASE WHEN event_class IN ('DDL', 'ROLE') THEN ${STATEMENT_KEY} END) AS ddl_role_changes,
       count(DISTINCT CASE WHEN success = false THEN ${STATEMENT_KEY} END) AS failures,
       min(event_time) AS first_activity, max(event_time) AS last_activity,
       ${DIALECTS[engine].distinctText('source')} AS sources
FROM audit_events
WHERE ${PERIOD}
GROUP BY db_user
ORDER BY events DESC, db_user`,
  },
  {
    name: 'privilege-changes',
    title: 'Privilege changes',
    description:
      'Every GRANT, REVOKE, CREATE/ALTER/DROP ROLE and SET ROLE, one row per statement: who, when, from where, and the statement.',
    sql: (engine) =>
      statementList(
        engine,
        [
          'event_time',
          'db_user',
          'database_name',
          'client_addr',
          'command',
          'object_name',
          'statement_text',
          'success',
          'error_code',
          'source',
          'session_id',
        ],
        `(event_class = 'ROLE' OR command IN (${ROLE_COMMANDS.map(sqlLiteral).join(', ')}) OR ${SET_ROLE})`,
      ),
  },
  {
    name: 'schema-changes',
    title: 'Schema changes',
    description:
      'Every DDL statement (CREATE, ALTER, DROP, TRUNCATE of objects), one row per statement with its objects listed together: who, when, what, and whether it succeeded.',
    sql: (engine) =>
      statementList(
        engine,
        [
          'event_time',
          'db_user',
          'database_name',
          'command',
          'object_type',
          'object_name',
          'statement_text',
          'success',
          'source',
          'session_id',
        ],
        `event_class = 'DDL'`,
      ),
  },
  {
    name: 'data-exports',
    title: 'Data exports and large reads',
    description:
      'COPY ... TO (reads by COPY) and reads returning at least the large-read threshold of rows, one row per statement: who, which objects, how many rows, from where.',
    sql: (engine, s) =>
      statementList(
        engine,
        ['event_time', 'db_user', 'database_name', 'object_name', 'row_count', 'client_addr'],
        `event_class = 'READ' AND (command = 'COPY' OR row_count >= ${whole(s.largeReadRows, 'large-read rows')})`,
        `,
       CASE WHEN min(command) = 'COPY' THEN 'COPY TO' ELSE 'large read' END AS kind, min(statement_text) AS statement_text, min(source) AS source, min(session_id) AS session_id`,
      ),
  },
  {
    name: 'privileged-sessions',
    title: 'Sessions of privileged users',
    description:
      'Sessions of the privileged users (a configurable list): when, from where, and how many statements of each kind (each statement once, however many audit lines pgAudit wrote for it).',
    sql: (_engine, s) => {
      const users = s.privilegedUsers.length > 0 ? s.privilegedUsers.map(sqlLiteral).join(', ') : 'NULL';
      return `SELECT session_id, db_user, max(client_addr) AS client_addr, max(application_name) AS application_name,
       min(event_time) AS session_start, max(event_time) AS last_activity,
       count(DISTINCT CASE WHEN event_class NOT IN ('CONNECT', 'DISCONNECT', 'AUTH_FAILURE') THEN ${STATEMENT_KEY} END) AS statements,
       count(DISTINCT CASE WHEN event_class = 'READ' THEN ${STATEMENT_KEY} END) AS reads,
       count(DISTINCT CASE WHEN event_class = 'WRITE' THEN ${STATEMENT_KEY} END) AS writes,
       count(DISTINCT CASE WHEN event_class IN ('DDL', 'ROLE') THEN ${STATEMENT_KEY} END) AS ddl_role_changes,
       count(CASE WHEN success = false THEN 1 END) AS failures,
       source
FROM audit_events
WHERE ${PERIOD} AND db_user IN (${users})
GROUP BY source, session_id, db_user
ORDER BY session_start, session_id`;
    },
  },
];

/** The report called `name`, or undefined. */
export function findReport(name: string): ReportDefinition | undefined {
  return REPORTS.find((r) => r.name === name);
}
