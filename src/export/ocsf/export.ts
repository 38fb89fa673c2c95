import { rm, rmdir } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { openDuckDb } from '../../lake/duckdb.js';
import { sqlString } from '../../lake/parquet-convert.js';
import type { Storage } from '../../lake/storage.js';
import { openLakeSession, streamRows } from '../../reports/lake-session.js';
import { type Period, periodParams } from '../../reports/run.js';
import { fileSink, type TextSink } from '../../reports/sink.js';
import { ocsfColumns } from './columns.js';
import { AUTHENTICATION, type CloudContext, DATASTORE_ACTIVITY, isAuthentication, toOcsf } from './map.js';

/**
 * `auditlake export ocsf`: every event of the lake in a period, as OCSF, one class per Security Lake
 * custom source, in its layout:
 *   <out>/ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/auditlake-<YYYYMMDD>.parquet
 * (ZSTD, rows sorted by `time`), or the same layout with `.jsonl` files for log forwarders, or JSON lines
 * on stdout. Events are read from the lake sorted by day and time, one chunk at a time, staged per class
 * as JSON lines and, at the end of each day, converted to Parquet by DuckDB: memory stays bounded, and
 * a day's file is named after the day, so exporting a day again replaces it.
 */

export type OcsfFormat = 'parquet' | 'jsonl';

/** Where the export goes and how it is laid out. */
export interface OcsfExportOptions {
  period: Period;
  format: OcsfFormat;
  region: string;
  accountId: string;
  /** Security Lake custom source names, one per class. */
  sources: { authentication: string; datastore: string };
}

export { DEFAULT_SOURCES } from './map.js';

/** One file written. */
export interface OcsfFile {
  key: string;
  classUid: number;
  eventDay: string;
  rows: number;
}

/** The object key of a class's file for one day. */
export function ocsfKey(options: OcsfExportOptions, classUid: number, eventDay: string): string {
  const source = classUid === AUTHENTICATION.class_uid ? options.sources.authentication : options.sources.datastore;
  const ext = options.format === 'parquet' ? 'parquet' : 'jsonl';
  return `ext/${source}/region=${options.region}/accountId=${options.accountId}/eventDay=${eventDay}/auditlake-${eventDay}.${ext}`;
}

const SELECT_DAY = 'SELECT * FROM audit_events WHERE event_date = ? ORDER BY event_time, event_id';

/** The days of the period that hold events, in order. */
async function daysInPeriod(connection: DuckDBConnection, period: Period): Promise<string[]> {
  const reader = await connection.runAndReadAll(
    'SELECT DISTINCT event_date FROM audit_events WHERE event_date BETWEEN ? AND ? ORDER BY event_date',
    periodParams(period),
  );
  return reader.getRowObjectsJson().map((r) => String(r.event_date));
}

/** Converts a staged JSON-lines file of one class to Parquet, sorted by time; returns the rows written. */
async function toParquet(connection: DuckDBConnection, staged: string, target: string, classUid: number): Promise<number> {
  const columns = ocsfColumns(classUid)
    .map(([name, type]) => `${sqlString(name)}: ${sqlString(type)}`)
    .join(', ');
  const reader = await connection.runAndReadAll(
    `COPY (SELECT * FROM read_json(${sqlString(staged)}, format = 'newline_delimited', columns = {${columns}}) ORDER BY "time")
     TO ${sqlString(target)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
  );
  return Number(reader.getRowsJson()[0]?.[0] ?? 0);
}

/** Exports to files in `out` (a folder or S3 prefix). */
export async function exportOcsfFiles(lake: Storage, out: Storage, options: OcsfExportOptions): Promise<OcsfFile[]> {
  const session = await openLakeSession(lake);
  const connection = session.connection;
  const converter = await openDuckDb({ memoryLimit: '256MB', threads: 1 }).catch(async (e) => {
    await session.close();
    throw e;
  });
  const staging = await out.stagingDir().catch(async (e) => {
    await session.close();
    converter.closeSync();
    throw e;
  });
  const cloud: CloudContext = { region: options.region, accountId: options.accountId };
  const files: OcsfFile[] = [];
  const open = new Map<number, { sink: TextSink; path: string; rows: number }>();
  let day = '';

  const finishDay = async () => {
    for (const [classUid, staged] of open) {
      await staged.sink.close();
      const eventDay = day.replaceAll('-', '');
      const key = ocsfKey(options, classUid, eventDay);
      if (options.format === 'parquet') {
        const target = `${staged.path}.parquet`;
        const rows = await toParquet(converter, staged.path, target, classUid);
        if (rows !== staged.rows) throw new Error(`OCSF export: ${key} has ${rows} rows, ${staged.rows} were staged`);
        await rm(staged.path, { force: true });
        await out.putFile(key, target);
      } else {
        await out.putFile(key, staged.path);
      }
      files.push({ key, classUid, eventDay, rows: staged.rows });
    }
    open.clear();
  };

  try {
    // Day by day: each query reads one partition, and only that day is sorted.
    for (const eventDay of await daysInPeriod(connection, options.period)) {
      day = eventDay;
      const stream = await streamRows(connection, SELECT_DAY, [eventDay]);
      for await (const rows of stream.batches) {
        // One write per class and chunk, not per row.
        const text = new Map<number, string[]>();
        for (const row of rows) {
          const classUid = isAuthentication(row) ? AUTHENTICATION.class_uid : DATASTORE_ACTIVITY.class_uid;
          const lines = text.get(classUid) ?? [];
          if (lines.length === 0) text.set(classUid, lines);
          lines.push(JSON.stringify(toOcsf(row, cloud)));
        }
        for (const [classUid, lines] of text) {
          let staged = open.get(classUid);
          if (!staged) {
            const path = join(staging, `ocsf-${process.pid}-${classUid}-${eventDay}.jsonl`);
            staged = { sink: fileSink(path), path, rows: 0 };
            open.set(classUid, staged);
          }
          staged.rows += lines.length;
          await staged.sink.write(`${lines.join('\n')}\n`);
        }
      }
      await finishDay();
    }
    return files;
  } finally {
    for (const staged of open.values()) await staged.sink.close().catch(() => {});
    for (const staged of open.values()) await rm(staged.path, { force: true });
    await session.close();
    converter.closeSync();
    // A local export folder keeps only the export: remove the staging folders, up to the export's root, if empty now.
    const root = out.localPath('');
    if (root !== null) for (let dir = staging; dir.startsWith(root + sep); dir = dirname(dir)) await rmdir(dir).catch(() => {});
  }
}

/** Exports as JSON lines to one text sink (stdout), in time order within each day. Returns the count. */
export async function exportOcsfLines(lake: Storage, sink: TextSink, period: Period, cloud: CloudContext): Promise<number> {
  const session = await openLakeSession(lake);
  const connection = session.connection;
  let count = 0;
  try {
    for (const day of await daysInPeriod(connection, period)) {
      const stream = await streamRows(connection, SELECT_DAY, [day]);
      for await (const rows of stream.batches) {
        await sink.write(rows.map((row) => `${JSON.stringify(toOcsf(row, cloud))}\n`).join(''));
        count += rows.length;
      }
    }
    return count;
  } finally {
    await session.close();
  }
}
