import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryLake } from '../../src/cli/commands/query.js';
import { compactLake } from '../../src/lake/compact.js';
import { openDuckDb } from '../../src/lake/duckdb.js';
import { DEFAULT_PARQUET } from '../../src/lake/parquet-convert.js';
import { EVENT_FIELDS, PARQUET_TYPES } from '../../src/schema/index.js';
import { collectFile } from '../support/collect.js';
import { ingestInto, tempLake } from '../support/lake.js';

const CSV = 'fixtures/pgaudit/pg15.csv';
const STDERR = 'fixtures/pgaudit/pg15-rds.log';

describe('local lake', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    lake = await tempLake();
  });
  afterEach(() => lake.cleanup());

  it('writes every event once, readable by DuckDB with the same values', async () => {
    const expected = await collectFile(CSV);
    const summary = await ingestInto(lake.dir, [CSV]);
    expect(summary.events).toBe(expected.events.length);
    const { rows } = await queryLake(
      lake.dir,
      'SELECT event_id, statement_text, parameters, epoch_us(event_time) AS t FROM audit_events ORDER BY event_id',
    );
    const want = expected.events
      .map((e) => ({ event_id: e.event_id, statement_text: e.statement_text, parameters: e.parameters, t: String(e.event_time) }))
      .sort((a, b) => a.event_id.localeCompare(b.event_id));
    expect(rows).toEqual(want);
  });

  it('is idempotent: ingesting the same input twice does not duplicate events', async () => {
    await ingestInto(lake.dir, [CSV, STDERR]);
    const first = await lake.storage.list('events/');
    await ingestInto(lake.dir, [CSV, STDERR]);
    expect(await lake.storage.list('events/')).toEqual(first);
    const { rows } = await queryLake(lake.dir, 'SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM audit_events');
    const expected = (await collectFile(CSV)).events.length + (await collectFile(STDERR)).events.length;
    expect(rows).toEqual([{ n: String(expected), d: String(expected) }]);
  });

  it('rolls files by size and removes the extra files of an earlier run with other settings', async () => {
    await ingestInto(lake.dir, [CSV], 'auto', 4096);
    const many = await lake.storage.list('events/');
    expect(many.length).toBeGreaterThan(3);
    await ingestInto(lake.dir, [CSV]);
    const one = await lake.storage.list('events/');
    expect(one.length).toBe(1);
    const { rows } = await queryLake(lake.dir, 'SELECT count(*) AS n FROM audit_events');
    expect(rows[0].n).toBe(String((await collectFile(CSV)).events.length));
  });

  it('writes Parquet types Athena reads: TIMESTAMP(MICROS, UTC), zstd, no INT96', async () => {
    await ingestInto(lake.dir, [CSV]);
    const [file] = await lake.storage.list('events/');
    const duck = await openDuckDb();
    const path = lake.storage.localPath(file);
    const schema = (
      await duck.runAndReadAll(`SELECT name, type, converted_type, logical_type FROM parquet_schema('${path}')`)
    ).getRowObjectsJson();
    for (const field of EVENT_FIELDS) {
      const name = field.type === 'string_list' ? 'element' : field.name;
      const column = schema.find((c) => c.name === name) as Record<string, string>;
      expect(column.type, field.name).toBe(PARQUET_TYPES[field.type].physical);
      expect(column.converted_type, field.name).toBe(PARQUET_TYPES[field.type].converted);
      if (field.type === 'timestamp')
        expect(column.logical_type).toContain('isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds()');
    }
    expect(schema.map((c) => c.name).filter((n) => n !== 'duckdb_schema' && n !== 'list' && n !== 'element')).toEqual(
      EVENT_FIELDS.map((f) => f.name),
    );
    const codecs = (await duck.runAndReadAll(`SELECT DISTINCT compression FROM parquet_metadata('${path}')`)).getRowObjectsJson();
    expect(codecs).toEqual([{ compression: 'ZSTD' }]);
    duck.closeSync();
  });

  it('writes every column as the Parquet type its Athena type (DDL and Glue table) needs, also after compaction', async () => {
    // What Athena's Parquet reader needs for each declared type, written out independently of src/schema.
    const needs: Record<string, { type: string | null; converted: string | null; logical?: string; list?: boolean }> = {
      string: { type: 'BYTE_ARRAY', converted: 'UTF8' },
      int: { type: 'INT32', converted: 'INT_32' },
      bigint: { type: 'INT64', converted: 'INT_64' },
      double: { type: 'DOUBLE', converted: null },
      boolean: { type: 'BOOLEAN', converted: null },
      timestamp: {
        type: 'INT64',
        converted: 'TIMESTAMP_MICROS',
        logical: 'TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds()',
      },
      'array<string>': { type: 'BYTE_ARRAY', converted: 'UTF8', list: true },
    };
    const ddl = await readFile('schemas/athena/audit_events.sql', 'utf8');
    const glue = JSON.parse(await readFile('schemas/glue/audit_events.json', 'utf8'));
    const glueColumns = (glue.StorageDescriptor.Columns as { Name: string; Type: string }[]).map((c) => [c.Name, c.Type]);
    const ddlColumns = [...ddl.matchAll(/^ {2}`(\w+)`\s+([\w<>]+) COMMENT/gm)].map((m) => [m[1], m[2]]);
    expect(ddlColumns).toEqual(glueColumns);
    const duck = await openDuckDb();
    const check = async (file: string) => {
      const schema = (
        await duck.runAndReadAll(`SELECT name, type, converted_type, logical_type FROM parquet_schema('${lake.storage.localPath(file)}')`)
      ).getRowObjectsJson() as Record<string, string | null>[];
      const leaves = schema.filter((c) => c.name !== 'duckdb_schema' && c.name !== 'list' && c.name !== 'element');
      expect(leaves.map((c) => c.name)).toEqual(glueColumns.map(([name]) => name));
      for (const [name, athenaType] of glueColumns) {
        const need = needs[athenaType];
        expect(need, athenaType).toBeDefined();
        const at = schema.findIndex((c) => c.name === name);
        if (need.list) {
          expect(schema[at].converted_type, name).toBe('LIST');
          expect(schema[at + 1].name).toBe('list');
        }
        const leaf = need.list ? schema[at + 2] : schema[at];
        expect([leaf.type, leaf.converted_type], `${file} ${name}`).toEqual([need.type, need.converted]);
        if (need.logical) expect(leaf.logical_type, name).toContain(need.logical);
      }
    };
    await ingestInto(lake.dir, [CSV, STDERR], 'auto', 4096);
    await check((await lake.storage.list('events/'))[0]);
    await compactLake(lake.storage, { targetBytes: 64 * 1024 * 1024, parquet: DEFAULT_PARQUET });
    const compacted = (await lake.storage.list('events/'))[0];
    expect(compacted).toMatch(/part-c/);
    await check(compacted);
    duck.closeSync();
  });

  it('keeps event_date equal to the UTC date of event_time', async () => {
    await ingestInto(lake.dir, [CSV]);
    const { rows } = await queryLake(
      lake.dir,
      "SELECT count(*) AS bad FROM audit_events WHERE event_date <> strftime(event_time AT TIME ZONE 'UTC', '%Y-%m-%d')",
    );
    expect(rows).toEqual([{ bad: '0' }]);
  });
});
