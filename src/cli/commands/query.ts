import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { DuckDBConnection } from '@duckdb/node-api';
import { openDuckDb } from '../../lake/duckdb.js';
import { sqlString } from '../../lake/parquet-convert.js';
import { createEventsView, createLakeView, restrictToLake } from '../../lake/query.js';
import type { Storage } from '../../lake/storage.js';
import { tempFolder } from '../../lake/temp-folder.js';
import { ALERT_FIELDS, ALERT_PARTITION_KEYS } from '../../rules/index.js';
import { type Command, EXIT, type Io, UsageError } from '../command.js';
import { csvLine, formatTable } from '../format-table.js';
import { openLakeForReading } from '../lake-options.js';
import { onOutputClosed, writeOut } from '../output.js';
import { type Progress, startProgress } from '../progress.js';
import { TZ_OPTION, timeZoneOption, tzHelp } from '../time-zone.js';

const DEFAULT_TABLE_ROWS = 1000;

const HELP = `Usage: auditlake query --lake <dir> [--format table|json|csv] [--max-rows n] "<SQL>"
       auditlake query --lake <dir> --out <file> [--format parquet|csv|json] "<SQL>"

Runs SQL with DuckDB over the lake. The views audit_events and audit_alerts have the same names
and columns as the Athena tables (schemas/athena/), so one SQL text runs in both.
Partition columns source and event_date are text ('2024-05-01'); filter on them to read less.
Timestamps print in UTC (e.g. 2024-05-01 08:00:00.0026+00), as Athena prints them, or with --tz in
another zone (2024-05-01 10:00:00.0026+02 with --tz Europe/Berlin); the SQL then sees that zone too
(date_trunc('day', event_time) cuts local days). event_date stays the UTC day.

Results stream: csv and json are written by DuckDB's own CSV and JSON writers as rows are produced,
in bounded memory however many there are (a million rows: well under 500 MB).
A table shows the first --max-rows rows (and counts the rest); use csv, json or --out for all.
With --out, DuckDB writes the file itself (COPY ... TO), the fastest way to export.

Options:
  --lake <dir>              lake root (a folder written by auditlake ingest)
  --format <format>         stdout: table (default), json (an array) or csv;
                            --out: parquet, csv or json (JSON lines), default from the file's extension
  --out <file>              write the result to this file instead of stdout
  --max-rows <n>            table: rows shown (default ${DEFAULT_TABLE_ROWS})
  --allow-external-access   let the SQL read and write other files and URLs (off: only the lake's
                            Parquet files are readable, and the DuckDB configuration is locked)
${tzHelp(28)}
  -h, --help                show this help

Example:
  auditlake query --lake ./lake "SELECT db_user, client_addr, count(*) AS failures
    FROM audit_events WHERE event_class = 'AUTH_FAILURE' GROUP BY 1, 2 ORDER BY 3 DESC"
  auditlake query --lake ./lake --out may.parquet "SELECT * FROM audit_events WHERE event_date LIKE '2024-05-%'"
`;

/** Memory DuckDB may use for a query before it spills to a temporary folder. */
const QUERY_MEMORY = '256MB';

/**
 * Locks the connection before the user's SQL runs: from then on only the lake's files and `writable` (the
 * output a command writes itself) can be touched, and the configuration cannot be changed back.
 */
export type LockDown = (writable?: string[]) => Promise<void>;

/**
 * Opens DuckDB over a lake (views audit_events and audit_alerts), runs `use` with the connection and
 * closes it; `use` must call its lock-down before it runs any SQL of the user's (a no-op with
 * `allowExternalAccess`). Large sorts and joins spill to a private temporary folder, removed afterwards.
 */
export async function withLake<T>(
  storage: Storage,
  use: (connection: DuckDBConnection, lockDown: LockDown) => Promise<T>,
  options: { allowExternalAccess?: boolean; timeZone?: string } = {},
): Promise<T> {
  const spill = await tempFolder('auditlake-query-');
  let connection: DuckDBConnection | null = null;
  try {
    connection = await openDuckDb({ memoryLimit: QUERY_MEMORY, threads: 2, tempDirectory: spill.path });
    const readable: string[] = [];
    await createEventsView(connection, storage, readable);
    await createLakeView(connection, storage, 'audit_alerts', 'alerts/', ALERT_FIELDS, ALERT_PARTITION_KEYS, readable);
    // DuckDB's own text of a TIMESTAMPTZ (casts, the CSV and JSON writers) follows the session's zone.
    if (options.timeZone && options.timeZone !== 'UTC') await connection.run(`SET TimeZone = ${sqlString(options.timeZone)}`);
    const open = connection;
    const lockDown: LockDown = async (writable = []) => {
      if (!options.allowExternalAccess) await restrictToLake(open, [...readable, ...writable]);
    };
    return await use(open, lockDown);
  } finally {
    connection?.closeSync();
    await spill.remove();
  }
}

/** Runs one SQL text against the lake and returns column names and JSON-safe rows (for small results). */
export async function queryLake(
  lake: string,
  sql: string,
  options: { allowExternalAccess?: boolean; timeZone?: string; progress?: { io: Io; label: string } } = {},
): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
  const storage = await openLakeForReading(lake);
  return withLake(
    storage,
    async (connection, lockDown) => {
      await lockDown();
      const progress = options.progress ? startProgress(options.progress.io, { ticking: true }) : null;
      const stop = progress ? watchQuery(connection, progress, options.progress?.label ?? 'querying') : () => {};
      try {
        const reader = await connection.runAndReadAll(await zonedSql(connection, sql, options.timeZone));
        return { columns: reader.columnNames(), rows: reader.getRowObjectsJson() as Record<string, unknown>[] };
      } finally {
        stop();
        progress?.done();
      }
    },
    options,
  );
}

/**
 * Shows a running DuckDB query's own progress (its percentage, when it knows one) on the status line
 * under `label`; returns the function that stops watching.
 */
function watchQuery(connection: DuckDBConnection, progress: Progress, label: string): () => void {
  progress.update(label, true);
  const poll = setInterval(() => {
    const pct = connection.progress.percentage;
    if (pct >= 0) progress.update(`${label}: ${pct.toFixed(0)}%`);
  }, 250);
  return () => clearInterval(poll);
}

/**
 * Streams a query's result to the output as DuckDB's own CSV or JSON writer produces it (COPY ... TO a
 * FIFO that this process reads): as fast as `duckdb -csv`, and memory stays bounded because DuckDB's
 * writes block while the reader is behind. Returns the row count.
 */
async function copyToOutput(
  connection: DuckDBConnection,
  sql: string,
  format: 'csv' | 'json',
  io: Io,
  lockDown: LockDown,
): Promise<number> {
  const dir = await tempFolder('auditlake-rows-');
  try {
    const fifo = join(dir.path, 'rows');
    await lockDown([fifo]);
    const columns = await describe(connection, sql);
    if (!columns) return await jsRows(connection, sql, format, io);
    return await copyThroughFifo(connection, sql, columns, format, io, fifo);
  } finally {
    await dir.remove();
  }
}

/** `COPY` of the query into a new FIFO at `fifo`, pumped to the output as DuckDB writes it. */
async function copyThroughFifo(
  connection: DuckDBConnection,
  sql: string,
  columns: { name: string; type: string }[],
  format: 'csv' | 'json',
  io: Io,
  fifo: string,
): Promise<number> {
  execFileSync('mkfifo', ['-m', '600', fifo]);
  // Our own reader and a placeholder writer: neither open blocks, and the reader sees no end of file
  // before DuckDB has opened, written and closed its side.
  const readFd = openSync(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  const reader = new Socket({ fd: readFd, readable: true, writable: false });
  // When stdout closes (a pipe into head), closing the read end fails DuckDB's blocked write, so the process can exit.
  const unregister = onOutputClosed(() => closeSync(readFd));
  let placeholder: number | null = openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  const pumped = (async () => {
    for await (const chunk of reader) await writeOut(io, chunk.toString('utf8'));
  })();
  const options = format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT json, ARRAY true';
  try {
    const select = `SELECT ${columns.map((c, i) => `${outputExpression(`#${i + 1}`, c.type, format)} AS "${c.name.replaceAll('"', '""')}"`).join(', ')} FROM (${bareSql(sql)})`;
    const result = await connection.run(`COPY (${select}) TO ${sqlString(fifo)} (${options})`);
    closeSync(placeholder);
    placeholder = null;
    await pumped;
    return result.rowsChanged;
  } finally {
    if (placeholder !== null) closeSync(placeholder);
    unregister();
    reader.destroy();
    await pumped.catch(() => {});
  }
}

/** The result columns of a query (without running it), or null for a statement DESCRIBE cannot take. */
async function describe(connection: DuckDBConnection, sql: string): Promise<{ name: string; type: string }[] | null> {
  try {
    const rows = (await connection.runAndReadAll(`DESCRIBE ${bareSql(sql)}`)).getRowObjectsJson();
    // A JSON object cannot hold one key twice: a repeated name gets a suffix (_1, _2, ...).
    const seen = new Map<string, number>();
    return rows.map((r) => {
      const name = String(r.column_name);
      const n = seen.get(name) ?? 0;
      seen.set(name, n + 1);
      return { name: n === 0 ? name : `${name}_${n}`, type: String(r.column_type) };
    });
  } catch {
    return null;
  }
}

/**
 * How a column is written, so the DuckDB writers print what `queryLake` returns: JSON keeps 64-bit and
 * larger integers and decimals as strings (exact in every JSON reader); CSV writes lists and structs as JSON text.
 */
function outputExpression(column: string, type: string, format: 'csv' | 'json'): string {
  if (format === 'json' && /^(U?BIGINT|U?HUGEINT|DECIMAL)/.test(type)) return `CAST(${column} AS VARCHAR)`;
  if (format === 'csv' && (/\]$/.test(type) || /^(STRUCT|MAP|UNION)/.test(type))) return `CAST(to_json(${column}) AS VARCHAR)`;
  return column;
}

/** The slower path for statements COPY cannot wrap (SHOW, PRAGMA, ...): rows converted here, streamed. */
async function jsRows(connection: DuckDBConnection, sql: string, format: 'csv' | 'json', io: Io): Promise<number> {
  const result = await connection.stream(sql);
  const columns = result.columnNames();
  let count = 0;
  await writeOut(io, format === 'csv' ? csvLine(columns) : '[');
  for await (const rows of result.yieldRowObjectJson()) {
    if (format === 'csv') await writeOut(io, rows.map((r) => csvLine(columns.map((c) => r[c]))).join(''));
    else await writeOut(io, rows.map((r, i) => `${count + i === 0 ? '\n' : ',\n'}\t${JSON.stringify(r)}`).join(''));
    count += rows.length;
  }
  if (format === 'json') await writeOut(io, count === 0 ? ']\n' : '\n]\n');
  return count;
}

/** A query's rows as a table of at most `maxRows` rows; every row is counted, the rest are not kept. */
async function tableRows(
  connection: DuckDBConnection,
  sql: string,
  maxRows: number,
  io: Io,
  lockDown: LockDown,
  timeZone: string,
): Promise<number> {
  await lockDown();
  // A table is printed once every row is counted: until then the status line says how far the query is.
  const progress = startProgress(io, { ticking: true });
  const stop = watchQuery(connection, progress, 'querying');
  const shown: Record<string, unknown>[] = [];
  let count = 0;
  let columns: string[];
  try {
    const result = await connection.stream(await zonedSql(connection, sql, timeZone));
    columns = result.columnNames();
    for await (const rows of result.yieldRowObjectJson()) {
      for (const r of rows) if (shown.length < maxRows) shown.push(r);
      count += rows.length;
      progress.update(`querying: ${count.toLocaleString('en-US')} rows read`);
    }
  } finally {
    stop();
    progress.done();
  }
  const table = formatTable(columns, shown);
  const capped = `(${count.toLocaleString('en-US')} rows, first ${shown.length.toLocaleString('en-US')} shown: use --format csv|json or --out for all)\n`;
  await writeOut(io, count > shown.length ? table.replace(/\(\d+ rows?\)\n$/, capped) : table);
  return count;
}

/**
 * The SQL with its TIMESTAMPTZ columns cast to text by DuckDB, in the session's zone with the offset of
 * each instant (daylight saving included), for the rows this process converts itself (the client's own
 * conversion knows only one fixed offset). Unchanged in UTC, or for a statement DESCRIBE cannot take.
 */
async function zonedSql(connection: DuckDBConnection, sql: string, timeZone: string | undefined): Promise<string> {
  if (!timeZone || timeZone === 'UTC') return sql;
  const columns = await describe(connection, sql);
  if (!columns?.some((c) => c.type === 'TIMESTAMP WITH TIME ZONE')) return sql;
  const select = columns.map(
    (c, i) => `${c.type === 'TIMESTAMP WITH TIME ZONE' ? `CAST(#${i + 1} AS VARCHAR)` : `#${i + 1}`} AS "${c.name.replaceAll('"', '""')}"`,
  );
  return `SELECT ${select.join(', ')} FROM (${bareSql(sql)})`;
}

/** The SQL text as COPY's subquery takes it: without trailing semicolons. */
function bareSql(sql: string): string {
  return sql.trim().replace(/;+$/, '');
}

/** The COPY format an `--out` file is written in: `--format`, else the file's extension. */
export function exportFormat(file: string, format: string | undefined): 'parquet' | 'csv' | 'json' {
  const chosen =
    format ?? { '.parquet': 'parquet', '.csv': 'csv', '.json': 'json', '.jsonl': 'json', '.ndjson': 'json' }[extname(file).toLowerCase()];
  if (chosen === 'parquet' || chosen === 'csv' || chosen === 'json') return chosen;
  throw new UsageError(
    format
      ? `--format ${format}: with --out expected parquet, csv or json`
      : `--out ${file}: give --format parquet|csv|json (or a .parquet, .csv or .json name)`,
  );
}

/** Writes a query's result to a file with DuckDB's COPY; returns the row count. */
async function copyRows(
  connection: DuckDBConnection,
  sql: string,
  file: string,
  format: 'parquet' | 'csv' | 'json',
  io: Io,
  lockDown: LockDown,
): Promise<number> {
  await lockDown([resolve(file)]);
  const options = { parquet: 'FORMAT parquet, COMPRESSION zstd', csv: 'FORMAT csv, HEADER true', json: 'FORMAT json' }[format];
  const progress = startProgress(io, { ticking: true });
  const stop = watchQuery(connection, progress, `writing ${file}`);
  try {
    const result = await connection.run(`COPY (${bareSql(sql)}) TO ${sqlString(resolve(file))} (${options})`);
    const rows = result.rowsChanged;
    progress.done();
    io.err(`${rows.toLocaleString('en-US')} row${rows === 1 ? '' : 's'} written to ${file} (${format})\n`);
    return rows;
  } finally {
    stop();
    progress.done();
  }
}

/** `auditlake query`. */
export const queryCommand: Command = {
  name: 'query',
  summary: 'run SQL over the lake with DuckDB (audit_events view, same as Athena)',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        lake: { type: 'string' },
        format: { type: 'string' },
        out: { type: 'string' },
        'max-rows': { type: 'string' },
        'allow-external-access': { type: 'boolean', default: false },
        ...TZ_OPTION,
      },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one SQL text (quote it)');
    const timeZone = timeZoneOption(values.tz);
    const out = values.out;
    const format = out ? exportFormat(out, values.format) : (values.format ?? 'table');
    if (!out && !['table', 'json', 'csv'].includes(format))
      throw new UsageError(`--format ${format}: expected table, json or csv (parquet needs --out <file>)`);
    const maxRows = Number(values['max-rows'] ?? DEFAULT_TABLE_ROWS);
    if (!Number.isInteger(maxRows) || maxRows < 0) throw new UsageError(`--max-rows ${values['max-rows']}: expected a whole number`);
    const storage = await openLakeForReading(values.lake);
    const sql = positionals[0];
    await withLake(
      storage,
      (connection, lockDown) =>
        out
          ? copyRows(connection, sql, out, format as 'parquet' | 'csv' | 'json', io, lockDown)
          : format === 'table'
            ? tableRows(connection, sql, maxRows, io, lockDown, timeZone)
            : copyToOutput(connection, sql, format as 'csv' | 'json', io, lockDown),
      { allowExternalAccess: values['allow-external-access'], timeZone },
    );
    return EXIT.ok;
  },
};
