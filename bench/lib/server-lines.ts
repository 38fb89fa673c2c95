import { type CsvlogRow, formatSessionStart, sessionIdOf } from './csvlog-format.js';
import type { Random } from './random.js';

/**
 * Lines of PostgreSQL's background processes that share the log with the audit trail and that auditlake
 * must skip: the checkpointer's pair per checkpoint (`log_checkpoints`, on by default since PostgreSQL 15)
 * and autovacuum's multi-line report (`log_autovacuum_min_duration`). Texts as PostgreSQL 15 words them.
 */

/** A csvlog row of a background process: no client, user, database or transaction. */
export function backgroundRow(
  time: number,
  pid: number,
  startMs: number,
  lineNum: number,
  backendType: string,
  message: string,
): CsvlogRow {
  return {
    time,
    user: null,
    database: null,
    pid,
    connectionFrom: null,
    sessionId: sessionIdOf(startMs, pid),
    lineNum,
    commandTag: null,
    sessionStart: formatSessionStart(startMs),
    vxid: null,
    txid: 0,
    severity: 'LOG',
    sqlstate: '00000',
    message,
    applicationName: '',
    backendType,
  };
}

/** `checkpoint complete: ...` (src/backend/access/transam/xlog.c, LogCheckpointEnd). */
export function checkpointComplete(r: Random): string {
  const buffers = r.int(50, 9000);
  return `checkpoint complete: wrote ${buffers} buffers (${((buffers / 16384) * 100).toFixed(1)}%); 0 WAL file(s) added, 0 removed, ${r.int(0, 3)} recycled; write=${(buffers / 90).toFixed(3)} s, sync=0.00${r.int(1, 9)} s, total=${(buffers / 88).toFixed(3)} s; sync files=${r.int(3, 60)}, longest=0.00${r.int(1, 9)} s, average=0.001 s; distance=${r.int(100, 90000)} kB, estimate=${r.int(90000, 120000)} kB`;
}

/** The multi-line `automatic vacuum of table ...` report (src/backend/access/heap/vacuumlazy.c). */
export function autovacuumReport(r: Random, cutoffXid: number): string {
  const table = r.pick(['orders', 'web_sessions', 'customers']);
  return [
    `automatic vacuum of table "appdb.public.${table}": index scans: 1`,
    `pages: 0 removed, ${r.int(1000, 90000)} remain, ${r.int(10, 900)} scanned (1.04% of total)`,
    `tuples: ${r.int(0, 5000)} removed, ${r.int(1e5, 9e6)} remain, 0 are dead but not yet removable`,
    `removable cutoff: ${cutoffXid}, which was 3 XIDs old when operation ended`,
    `index scan needed: ${r.int(1, 900)} pages from table (0.99% of total) had ${r.int(1, 5000)} dead item identifiers removed`,
    `avg read rate: 0.000 MB/s, avg write rate: 2.${r.int(100, 999)} MB/s`,
    `buffer usage: ${r.int(100, 9000)} hits, 0 misses, ${r.int(1, 900)} dirtied`,
    `WAL usage: ${r.int(100, 9000)} records, ${r.int(0, 90)} full page images, ${r.int(1e4, 9e6)} bytes`,
    `system usage: CPU: user: 0.01 s, system: 0.00 s, elapsed: 0.${r.int(10, 99)} s`,
  ].join('\n');
}
