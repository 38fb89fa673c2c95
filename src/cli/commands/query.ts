import { parseArgs } from 'node:util';
import { openDuckDb } from '../../lake/duckdb.js';
import { createEventsView, createLakeView, restrictToLake } from '../../lake/query.js';
import { ALERT_FIELDS, ALERT_PARTITION_KEYS } from '../../rules/index.js';
import { type Command, EXIT, UsageError } from '../command.js';
import { formatCsv, formatTable } from '../format-table.js';
import { openStorage } from '../lake-options.js';

const HELP = `Usage: auditlake query --lake <dir> [--format table|json|csv] "<SQL>"

Runs SQL with DuckDB over the lake. The views audit_events and audit_alerts have the same names
and columns as the Athena tables (schemas/athena/), so one SQL text runs in both.
Partition columns source and event_date are text ('2024-05-01'); filter on them to read less.

Options:
  --lake <dir>              lake root (a folder written by auditlake ingest)
  --format table|json|csv   output format (default: table)
  --allow-external-access   let the SQL read and write other files and URLs (off: only the lake's
                            Parquet files are readable, and the DuckDB configuration is locked)
  -h, --help                show this help

Example:
  auditlake query --lake ./lake "SELECT db_user, client_addr, count(*) AS failures
    FROM audit_events WHERE event_class = 'AUTH_FAILURE' GROUP BY 1, 2 ORDER BY 3 DESC"
`;

/** Runs one SQL text against the lake and returns column names and JSON-safe rows. */
export async function queryLake(
  lake: string,
  sql: string,
  options: { allowExternalAccess?: boolean } = {},
): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
  const storage = openStorage(lake, '--lake');
  const connection = await openDuckDb({ memoryLimit: '1GB', threads: 2 });
  try {
    const readable: string[] = [];
    await createEventsView(connection, storage, readable);
    await createLakeView(connection, storage, 'audit_alerts', 'alerts/', ALERT_FIELDS, ALERT_PARTITION_KEYS, readable);
    if (!options.allowExternalAccess) await restrictToLake(connection, readable);
    const reader = await connection.runAndReadAll(sql);
    return { columns: reader.columnNames(), rows: reader.getRowObjectsJson() as Record<string, unknown>[] };
  } finally {
    connection.closeSync();
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
        format: { type: 'string', default: 'table' },
        'allow-external-access': { type: 'boolean', default: false },
      },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one SQL text (quote it)');
    if (!['table', 'json', 'csv'].includes(values.format as string))
      throw new UsageError(`--format ${values.format}: expected table, json or csv`);
    let result: Awaited<ReturnType<typeof queryLake>>;
    try {
      result = await queryLake(values.lake as string, positionals[0], { allowExternalAccess: values['allow-external-access'] });
    } catch (e) {
      if (e instanceof UsageError) throw e;
      io.err(`auditlake query: ${(e as Error).message}\n`);
      return EXIT.failed;
    }
    if (values.format === 'json') io.out(`${JSON.stringify(result.rows, null, 2)}\n`);
    else if (values.format === 'csv') io.out(formatCsv(result.columns, result.rows));
    else io.out(formatTable(result.columns, result.rows));
    return EXIT.ok;
  },
};
