/**
 * The peer auditlake is measured against: what a user reaches for first. DuckDB reads the csvlog with its 26
 * columns declared, keeps the AUDIT rows, splits the pgAudit fields with one regular expression and writes
 * zstd Parquet, on 2 threads. The regex is not a pgAudit parser: it leaves CSV quotes in the values and cuts
 * a PARAMETER list that holds a comma at the wrong place. It is the speed to beat while being right.
 *
 * Run as a child process, so its peak RSS is its own:
 * `node --import tsx bench/lib/duckdb-peer.ts <csvlog> <out.parquet> [threads]`; prints `{"rows": n}`.
 */
import { DuckDBInstance } from '@duckdb/node-api';

/** csvlog columns of PostgreSQL 14+ and the types a user would declare for them. */
export const CSVLOG_COLUMNS: readonly (readonly [string, string])[] = [
  ['log_time', 'TIMESTAMPTZ'],
  ['user_name', 'VARCHAR'],
  ['database_name', 'VARCHAR'],
  ['process_id', 'INTEGER'],
  ['connection_from', 'VARCHAR'],
  ['session_id', 'VARCHAR'],
  ['session_line_num', 'BIGINT'],
  ['command_tag', 'VARCHAR'],
  ['session_start_time', 'TIMESTAMPTZ'],
  ['virtual_transaction_id', 'VARCHAR'],
  ['transaction_id', 'BIGINT'],
  ['error_severity', 'VARCHAR'],
  ['sql_state_code', 'VARCHAR'],
  ['message', 'VARCHAR'],
  ['detail', 'VARCHAR'],
  ['hint', 'VARCHAR'],
  ['internal_query', 'VARCHAR'],
  ['internal_query_pos', 'INTEGER'],
  ['context', 'VARCHAR'],
  ['query', 'VARCHAR'],
  ['query_pos', 'INTEGER'],
  ['location', 'VARCHAR'],
  ['application_name', 'VARCHAR'],
  ['backend_type', 'VARCHAR'],
  ['leader_pid', 'INTEGER'],
  ['query_id', 'BIGINT'],
];

/** `AUDIT: type,stmt,sub,class,command,object_type,object_name,statement,parameter,rows` (log_rows on). */
const AUDIT_REGEX = '(?s)^AUDIT: ([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),(.*),([^,]*),([^,]*)$';
const AUDIT_GROUPS = [
  'audit_type',
  'statement_id',
  'substatement_id',
  'class',
  'command',
  'object_type',
  'object_name',
  'statement',
  'parameter',
  'rows',
];

const q = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The COPY statement the peer runs. */
export function peerSql(csvPath: string, parquetPath: string): string {
  const columns = CSVLOG_COLUMNS.map(([n, t]) => `${q(n)}: ${q(t)}`).join(', ');
  return `COPY (
    SELECT log_time, user_name, database_name, process_id, connection_from, session_id, session_line_num,
      application_name, a.audit_type, TRY_CAST(a.statement_id AS BIGINT) AS statement_id,
      TRY_CAST(a.substatement_id AS BIGINT) AS substatement_id, a.class, a.command, a.object_type, a.object_name,
      a.statement, a.parameter, TRY_CAST(a.rows AS BIGINT) AS row_count
    FROM (
      SELECT *, regexp_extract(message, ${q(AUDIT_REGEX)}, [${AUDIT_GROUPS.map(q).join(', ')}]) AS a
      FROM read_csv(${q(csvPath)}, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', columns = {${columns}})
      WHERE message LIKE 'AUDIT: %'
    )
  ) TO ${q(parquetPath)} (FORMAT parquet, COMPRESSION zstd)`;
}

if (process.argv[1]?.endsWith('duckdb-peer.ts')) {
  const [csvPath, parquetPath, threads = '2'] = process.argv.slice(2);
  if (!csvPath || !parquetPath) throw new Error('usage: duckdb-peer.ts <csvlog> <out.parquet> [threads]');
  const instance = await DuckDBInstance.create(':memory:', { threads });
  const connection = await instance.connect();
  const result = await connection.run(peerSql(csvPath, parquetPath));
  process.stdout.write(`${JSON.stringify({ rows: Number(result.rowsChanged) })}\n`);
}
