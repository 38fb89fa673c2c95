import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryLake } from '../../src/cli/commands/query.js';
import { openDuckDb } from '../../src/lake/duckdb.js';
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

  it('keeps event_date equal to the UTC date of event_time', async () => {
    await ingestInto(lake.dir, [CSV]);
    const { rows } = await queryLake(
      lake.dir,
      "SELECT count(*) AS bad FROM audit_events WHERE event_date <> strftime(event_time AT TIME ZONE 'UTC', '%Y-%m-%d')",
    );
    expect(rows).toEqual([{ bad: '0' }]);
  });
});
