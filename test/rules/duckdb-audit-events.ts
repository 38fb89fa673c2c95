import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, DuckDBListValue, DuckDBTimestampTZValue } from '@duckdb/node-api';
import { type AuditEvent, duckdbColumns, EVENT_FIELDS, utcDate } from '../../src/schema/index.js';

/**
 * An in-memory DuckDB holding `audit_events` as the lake view has it: the stored columns with their
 * DuckDB types plus `source` and `event_date`. Rows are loaded through a temporary NDJSON file, with
 * timestamps carried as integer microseconds so nothing is rounded on the way.
 */
export interface AuditEventsDb {
  load(events: readonly AuditEvent[]): Promise<void>;
  /** Runs a query; timestamps come back as µs numbers, lists as arrays, BIGINTs as numbers. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

const TIMESTAMPS = new Set<string>(EVENT_FIELDS.filter((f) => f.type === 'timestamp').map((f) => f.name));

function plain(value: unknown): unknown {
  if (value instanceof DuckDBTimestampTZValue) return Number(value.micros);
  if (value instanceof DuckDBListValue) return value.items.map(plain);
  if (typeof value === 'bigint') return Number(value);
  return value;
}

/** Opens the database and creates the table. */
export async function openAuditEventsDb(): Promise<AuditEventsDb> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await instance.connect();
  const columns = [...duckdbColumns(), { name: 'source', type: 'VARCHAR' }, { name: 'event_date', type: 'VARCHAR' }];
  await connection.run(`CREATE TABLE audit_events (${columns.map((c) => `"${c.name}" ${c.type}`).join(', ')})`);
  const dir = await mkdtemp(join(tmpdir(), 'auditlake-rules-'));
  const file = join(dir, 'events.ndjson');
  const jsonColumns = columns.map((c) => `"${c.name}": '${TIMESTAMPS.has(c.name) ? 'BIGINT' : c.type}'`).join(', ');
  const select = columns.map((c) => (TIMESTAMPS.has(c.name) ? `to_timestamp(0) + to_microseconds("${c.name}")` : `"${c.name}"`)).join(', ');
  return {
    async load(events) {
      await connection.run('DELETE FROM audit_events');
      await writeFile(file, events.map((e) => JSON.stringify({ ...e, event_date: utcDate(e.event_time) })).join('\n'));
      await connection.run(
        `INSERT INTO audit_events SELECT ${select} FROM read_json('${file}', format = 'newline_delimited', columns = {${jsonColumns}})`,
      );
    },
    async query(sql) {
      const reader = await connection.runAndReadAll(sql);
      return reader.getRowObjects().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)])));
    },
    async close() {
      connection.closeSync();
      instance.closeSync();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
