import { parseArgs } from 'node:util';
import { STATEMENT_KEY } from '../../reports/definitions.js';
import { type Command, EXIT, UsageError } from '../command.js';
import { formatTable } from '../format-table.js';
import { TZ_OPTION, timeZoneOption, tzHelp } from '../time-zone.js';
import { queryLake } from './query.js';

const HELP = `Usage: auditlake sessions --lake <dir> [--user U] [--since T] [--source S] [--limit N]
       auditlake sessions --lake <dir> <session_id> [--format table|json]

Without a session id: lists recorded sessions, newest first, with who, from where, when, how many
statements (each once, however many audit lines pgAudit wrote for it) and how many failed. With one:
prints that session's timeline: connect, each statement with its parameters, rows, errors and
duration, and the disconnect. Works for every source: pgAudit
and DAS sessions use PostgreSQL's session id (%c), proxy sessions the proxy's.

Options:
  --lake <dir>               lake root
  --user <name>              only sessions of this database user
  --since <time>             only sessions active at or after this time (ISO-8601, e.g. 2024-05-01T10:00:00Z;
                             without an offset, the time is read in --tz's zone)
  --source <source>          pgaudit, das or proxy
  --limit <n>                sessions to list (default 100)
  --format table|json        output format (default table)
${tzHelp(29)}
`;

/** Quotes a value for SQL. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * The session list query. `statements` counts each statement the client sent once (see
 * {@link STATEMENT_KEY}): pgAudit's SESSION and OBJECT lines, its per-relation lines and its substatement
 * lines of one statement share session and statement id. A statement that failed counts as the ERROR event
 * it raised (and its AUDIT line too when pgAudit wrote one before the error).
 */
export function sessionsSql(filters: { user?: string; since?: string; source?: string; limit: number }): string {
  const where = ['session_id IS NOT NULL'];
  if (filters.user) where.push(`db_user = ${literal(filters.user)}`);
  if (filters.source) where.push(`source = ${literal(filters.source)}`);
  const having = filters.since ? `HAVING max(event_time) >= CAST(${literal(filters.since)} AS TIMESTAMPTZ)` : '';
  return `SELECT session_id, source, any_value(db_user) FILTER (WHERE db_user IS NOT NULL) AS db_user,
      any_value(database_name) FILTER (WHERE database_name IS NOT NULL) AS database_name,
      any_value(client_addr) FILTER (WHERE client_addr IS NOT NULL) AS client_addr,
      min(event_time) AS started, max(event_time) AS last_seen,
      count(DISTINCT ${STATEMENT_KEY}) FILTER (WHERE event_class NOT IN ('CONNECT', 'DISCONNECT', 'AUTH_FAILURE')) AS statements,
      count(*) FILTER (WHERE NOT success) AS failures,
      bool_or(event_class = 'DISCONNECT') AS ended
    FROM audit_events WHERE ${where.join(' AND ')}
    GROUP BY session_id, source ${having}
    ORDER BY started DESC, session_id DESC LIMIT ${filters.limit}`;
}

/**
 * One session's timeline query: one row per statement and substatement. Of the lines pgAudit wrote for
 * one (per audit type, per relation) the SESSION line is shown (the first OBJECT line when there is
 * none); `audit_type` says which types logged it (`SESSION+OBJECT` for both). Rows with the same time
 * keep their order in the log: an event id is its input's key and its position in the input.
 */
export function timelineSql(sessionId: string): string {
  return `SELECT event_time, source, event_class, command, statement_text, parameters, row_count, error, error_message,
      duration_ms, db_user,
      CASE WHEN has_session AND has_object THEN 'SESSION+OBJECT' ELSE audit_type END AS audit_type
    FROM (
      SELECT *, CASE WHEN success THEN '' ELSE coalesce(error_code, 'failed') END AS error,
        bool_or(audit_type = 'SESSION') OVER statement AS has_session,
        bool_or(audit_type = 'OBJECT') OVER statement AS has_object,
        row_number() OVER (statement ORDER BY audit_type = 'SESSION' DESC, event_time, event_id) AS nth
      FROM (SELECT *, ${STATEMENT_KEY} AS statement_key FROM audit_events WHERE session_id = ${literal(sessionId)})
      WINDOW statement AS (PARTITION BY source, statement_key, substatement_id)
    )
    WHERE nth = 1
    ORDER BY event_time, event_id`;
}

/** `auditlake sessions`. */
export const sessionsCommand: Command = {
  name: 'sessions',
  summary: 'list recorded sessions, or print one session timeline',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        lake: { type: 'string' },
        user: { type: 'string' },
        since: { type: 'string' },
        source: { type: 'string' },
        limit: { type: 'string', default: '100' },
        format: { type: 'string', default: 'table' },
        ...TZ_OPTION,
      },
    });
    const timeZone = timeZoneOption(values.tz);
    if (positionals.length > 1) throw new UsageError('give at most one session id');
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit <= 0) throw new UsageError(`--limit ${values.limit}: expected a positive whole number`);
    if (values.format !== 'table' && values.format !== 'json') throw new UsageError(`--format ${values.format}: expected table or json`);
    if (values.since && Number.isNaN(Date.parse(values.since))) throw new UsageError(`--since ${values.since}: expected an ISO-8601 time`);
    const sql = positionals.length
      ? timelineSql(positionals[0])
      : sessionsSql({ user: values.user, since: values.since, source: values.source, limit });
    const label = positionals.length ? `reading session ${positionals[0]}` : 'listing sessions';
    const progress = values.format === 'json' ? undefined : { io, label };
    const { columns, rows } = await queryLake(values.lake as string, sql, { timeZone, progress });
    if (positionals.length && rows.length === 0) {
      io.err(`auditlake sessions: no events for session ${positionals[0]} in ${values.lake}\n`);
      return EXIT.failed;
    }
    io.out(values.format === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : formatTable(columns, rows));
    return EXIT.ok;
  },
};
