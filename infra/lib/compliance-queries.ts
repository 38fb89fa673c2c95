/**
 * The compliance reports, as SQL that runs unchanged in Athena (as saved queries of the workgroup) and
 * in `auditlake query` (DuckDB). Each takes the reporting period as two parameters, the first and the
 * last day (`YYYY-MM-DD`), in that order: Athena's console asks for the `?` values when the query runs;
 * for `auditlake query`, {@link withPeriod} writes them in.
 */

/** One saved report. */
export interface ComplianceReport {
  name: string;
  description: string;
  sql: string;
}

/** SQL string literal. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** The reports; `privilegedUsers` are the roles whose sessions the last one lists. */
export function complianceReports(privilegedUsers: readonly string[]): ComplianceReport[] {
  const period = 'event_date BETWEEN ? AND ?';
  const users = privilegedUsers.length > 0 ? privilegedUsers.map(literal).join(', ') : "''";
  return [
    {
      name: 'auditlake-failed-logins-by-month',
      description: 'Failed logins per month, user and client address. Parameters: first day, last day (YYYY-MM-DD).',
      sql: `SELECT substr(event_date, 1, 7) AS report_month, db_user, client_addr, count(*) AS failures,
       min(event_time) AS first_seen, max(event_time) AS last_seen
FROM audit_events
WHERE ${period} AND event_class = 'AUTH_FAILURE'
GROUP BY substr(event_date, 1, 7), db_user, client_addr
ORDER BY report_month, failures DESC, db_user, client_addr`,
    },
    {
      name: 'auditlake-privilege-changes',
      description: 'Every privilege change (GRANT, REVOKE, CREATE/ALTER/DROP ROLE). Parameters: first day, last day (YYYY-MM-DD).',
      sql: `SELECT event_time, source, cluster_id, database_name, db_user, client_addr, command, object_name, statement_text, success
FROM audit_events
WHERE ${period} AND event_class = 'ROLE'
ORDER BY event_time, event_id`,
    },
    {
      name: 'auditlake-exports-and-bulk-reads',
      description: 'COPY statements and reads of 10,000 rows or more. Parameters: first day, last day (YYYY-MM-DD).',
      sql: `SELECT event_time, source, database_name, db_user, client_addr, command, object_name, row_count, statement_text
FROM audit_events
WHERE ${period} AND (command = 'COPY' OR (event_class = 'READ' AND row_count >= 10000))
ORDER BY event_time, event_id`,
    },
    {
      name: 'auditlake-ddl-changes',
      description: 'Schema changes (CREATE, ALTER, DROP, TRUNCATE of objects). Parameters: first day, last day (YYYY-MM-DD).',
      sql: `SELECT event_time, source, cluster_id, database_name, db_user, command, object_type, object_name, statement_text, success
FROM audit_events
WHERE ${period} AND event_class = 'DDL'
ORDER BY event_time, event_id`,
    },
    {
      name: 'auditlake-privileged-user-sessions',
      description: `Sessions of privileged users (${privilegedUsers.join(', ')}): when, from where, how much. Parameters: first day, last day (YYYY-MM-DD).`,
      sql: `SELECT source, session_id, db_user, client_addr, application_name, min(event_time) AS session_start,
       max(event_time) AS last_activity, count(*) AS events,
       count(CASE WHEN event_class IN ('ROLE', 'DDL', 'WRITE') THEN 1 END) AS changes,
       count(CASE WHEN success = false THEN 1 END) AS failures
FROM audit_events
WHERE ${period} AND db_user IN (${users})
GROUP BY source, session_id, db_user, client_addr, application_name
ORDER BY session_start, session_id`,
    },
  ];
}

/** The report's SQL with its period written in, for engines that take no parameters (`auditlake query`). */
export function withPeriod(sql: string, first: string, last: string): string {
  const day = /^\d{4}-\d{2}-\d{2}$/;
  if (!day.test(first) || !day.test(last)) throw new Error('report period: expected YYYY-MM-DD days');
  return sql.replace('event_date BETWEEN ? AND ?', `event_date BETWEEN ${literal(first)} AND ${literal(last)}`);
}
