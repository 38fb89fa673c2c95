import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toOcsf } from '../../src/export/ocsf/map.js';
import { S3Storage } from '../../src/lake/s3-storage.js';
import { eventToJson } from '../../src/schema/index.js';
import { eventsArbitrary } from '../rules/event-generator.js';
import { cliArgs as cli } from '../support/cli.js';
import { tempLake } from '../support/lake.js';
import { checkOcsf, withoutNulls } from '../support/ocsf-check.js';
import { eventMicros, reportLake } from '../support/report-lake.js';
import { TestS3 } from '../support/s3.js';

/**
 * The OCSF export: every event maps to a valid OCSF 1.3.0 Authentication or Datastore Activity event
 * (checked by test/support/ocsf-check.ts, written from the public schema), the Parquet files are laid
 * out as Security Lake custom sources expect (one class per source, ZSTD, sorted by time), and the
 * JSON lines carry the same events.
 */

type Row = Record<string, unknown>;
let lake: Awaited<ReturnType<typeof reportLake>>;
let out: Awaited<ReturnType<typeof tempLake>>;

async function files(dir: string, ext: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { recursive: true })) if (entry.endsWith(ext)) found.push(join(dir, entry));
  return found.sort();
}

async function readParquet(path: string): Promise<{ rows: Row[]; codecs: string[] }> {
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  try {
    const rows = (await db.runAndReadAll(`SELECT to_json(t) AS j FROM read_parquet('${path}', hive_partitioning = false) t`))
      .getRowObjectsJson()
      .map((r) => JSON.parse(String(r.j)) as Row);
    const codecs = (await db.runAndReadAll(`SELECT DISTINCT compression FROM parquet_metadata('${path}')`))
      .getRowObjectsJson()
      .map((r) => String(r.compression));
    return { rows: rows.map((r) => withoutNulls(r) as Row), codecs };
  } finally {
    db.closeSync();
  }
}

const LAYOUT =
  /^ext\/(auditlake-auth|auditlake-datastore)\/region=eu-west-1\/accountId=123456789012\/eventDay=(\d{8})\/auditlake-\2\.(parquet|jsonl)$/;

beforeAll(async () => {
  lake = await reportLake();
  out = await tempLake();
}, 120_000);
afterAll(async () => {
  await lake.cleanup();
  await out.cleanup();
});

describe('OCSF mapping', () => {
  it('maps every fixture event to a valid OCSF 1.3.0 event', () => {
    for (const e of lake.events)
      expect(checkOcsf(toOcsf(e, { region: 'eu-west-1', accountId: '123456789012' })), String(e.event_id)).toEqual([]);
  });

  it('maps any event the schema allows to a valid OCSF event (property)', () => {
    fc.assert(
      fc.property(eventsArbitrary, (events) => {
        for (const e of events) expect(checkOcsf(toOcsf(eventToJson(e)))).toEqual([]);
      }),
      { numRuns: 50 },
    );
  });

  it('has a checker that rejects what OCSF rejects', () => {
    const good = toOcsf(lake.events.find((e) => e.event_class === 'AUTH_FAILURE')!);
    const broken = (change: (e: Row) => void) => {
      const e = structuredClone(good);
      change(e);
      return checkOcsf(e).join('; ');
    };
    expect(checkOcsf(good)).toEqual([]);
    expect(broken((e) => delete e.user)).toMatch(/user: required/);
    expect(broken((e) => (e.type_uid = 300299))).toMatch(/type_uid/);
    expect(broken((e) => (e.activity_id = 7))).toMatch(/activity_id: 7 is not one of/);
    expect(broken((e) => (e.src_endpoint = { ip: 'not-an-ip' }))).toMatch(/src_endpoint.ip: expected an IP/);
    expect(broken((e) => (e.user = { full: 'x' }))).toMatch(/user.full: not an attribute/);
    expect(broken((e) => (e.time = '2024-05-01'))).toMatch(/time: expected a long/);
    expect(broken((e) => (e.severity = 'High'))).toMatch(/caption "High"/);
    expect(broken((e) => delete e.dst_endpoint && delete e.service)).toMatch(/at least one of service, dst_endpoint/);
    expect(broken((e) => ((e.metadata as Row).product = { name: 'x' }))).toMatch(/metadata.product.vendor_name: required/);
  });

  it('maps logins, logoffs and failures to Authentication and statements to Datastore Activity', () => {
    const find = (f: (e: Row) => boolean) => toOcsf(lake.events.find(f)!);
    const failure = find((e) => e.event_class === 'AUTH_FAILURE' && e.error_code === '28P01');
    expect(failure).toMatchObject({
      class_uid: 3002,
      activity_id: 1,
      type_uid: 300201,
      status_id: 2,
      status_code: '28P01',
      user: { name: expect.any(String) },
    });
    expect(find((e) => e.event_class === 'DISCONNECT')).toMatchObject({ class_uid: 3002, activity_id: 2, type_uid: 300202, status_id: 1 });
    const select = lake.events.find((e) => e.command === 'SELECT' && e.event_class === 'READ' && e.object_name)!;
    expect(toOcsf(select)).toMatchObject({
      class_uid: 6005,
      category_uid: 6,
      activity_id: 4,
      type_uid: 600504,
      time: Math.floor(eventMicros(select) / 1000),
      metadata: { version: '1.3.0', uid: select.event_id },
      actor: { user: { name: select.db_user } },
      table: { name: select.object_name },
      query_info: { query_string: select.statement_text },
    });
    expect(find((e) => e.command === 'DROP TABLE')).toMatchObject({ activity_id: 7, activity_name: 'Delete' });
    expect(find((e) => e.command === 'INSERT')).toMatchObject({ activity_id: 5, activity_name: 'Write' });
    // What OCSF has no attribute for is kept as text.
    expect(toOcsf(select).unmapped).toMatchObject({ source_ref: select.source_ref, command: 'SELECT' });
  });
});

describe('auditlake export ocsf', () => {
  it('writes Parquet in the Security Lake layout: one class per source, ZSTD, sorted by time, every event once', async () => {
    const dir = join(out.dir, 'parquet');
    const r = await cli([
      'export',
      'ocsf',
      '--lake',
      lake.dir,
      '--out',
      dir,
      '--region',
      'eu-west-1',
      '--account-id',
      '123456789012',
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    const paths = await files(dir, '.parquet');
    expect(paths.length).toBeGreaterThanOrEqual(2);
    const uids: string[] = [];
    for (const path of paths) {
      const key = relative(dir, path);
      const m = LAYOUT.exec(key);
      expect(m, key).not.toBeNull();
      const { rows, codecs } = await readParquet(path);
      expect(codecs).toEqual(['ZSTD']);
      const classUid = m![1] === 'auditlake-auth' ? 3002 : 6005;
      const times = rows.map((row) => row.time as number);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      for (const row of rows) {
        expect(row.class_uid).toBe(classUid);
        expect(checkOcsf(row), JSON.stringify(row)).toEqual([]);
        expect(new Date(row.time as number).toISOString().slice(0, 10).replaceAll('-', '')).toBe(m![2]);
        expect(row).toMatchObject({ cloud: { provider: 'AWS', region: 'eu-west-1', account: { uid: '123456789012' } } });
        uids.push(String((row.metadata as Row).uid));
      }
    }
    expect(uids.sort()).toEqual(lake.events.map((e) => String(e.event_id)).sort());
    expect(JSON.parse(r.out)).toMatchObject({ ocsf_version: '1.3.0', events: lake.events.length });
    expect(await stat(join(dir, '_state')).catch(() => null)).toBeNull();
  });

  it('writes the same events as JSON lines, and to stdout', async () => {
    const dir = join(out.dir, 'jsonl');
    const base = [
      'export',
      'ocsf',
      '--lake',
      lake.dir,
      '--region',
      'eu-west-1',
      '--account-id',
      '123456789012',
      '--since',
      '2024-05-03',
      '--until',
      '2024-05-03',
    ];
    expect((await cli([...base, '--out', dir, '--format', 'jsonl'])).code).toBe(0);
    expect((await cli([...base, '--out', join(out.dir, 'pq3')])).code).toBe(0);
    const jsonl = await files(dir, '.jsonl');
    expect(jsonl.map((p) => relative(dir, p))).toEqual([
      'ext/auditlake-auth/region=eu-west-1/accountId=123456789012/eventDay=20240503/auditlake-20240503.jsonl',
      'ext/auditlake-datastore/region=eu-west-1/accountId=123456789012/eventDay=20240503/auditlake-20240503.jsonl',
    ]);
    for (const path of jsonl) {
      const lines = (await readFile(path, 'utf8'))
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Row);
      const { rows } = await readParquet(join(out.dir, 'pq3', relative(dir, path)).replace(/\.jsonl$/, '.parquet'));
      expect(lines).toEqual(rows);
    }
    const stdout = await cli([
      'export',
      'ocsf',
      '--lake',
      lake.dir,
      '--out',
      '-',
      '--format',
      'jsonl',
      '--since',
      '2024-05-03',
      '--until',
      '2024-05-03',
    ]);
    const lines = stdout.out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Row);
    expect(lines).toHaveLength(lake.events.filter((e) => e.event_date === '2024-05-03').length);
    for (const l of lines) expect(checkOcsf(l)).toEqual([]);
  });

  it('replaces a day it exports again', async () => {
    const dir = join(out.dir, 'again');
    const args = [
      'export',
      'ocsf',
      '--lake',
      lake.dir,
      '--out',
      dir,
      '--region',
      'eu-west-1',
      '--account-id',
      '123456789012',
      '--since',
      '2024-05-01',
      '--until',
      '2024-05-02',
    ];
    await cli(args);
    const first = await files(dir, '.parquet');
    await cli(args);
    expect(await files(dir, '.parquet')).toEqual(first);
    expect(first).toHaveLength(4);
  });

  it('writes to S3 (the Security Lake bucket) through the SDK environment', async () => {
    const s3 = await TestS3.start();
    try {
      const r = await cli([
        'export',
        'ocsf',
        '--lake',
        lake.dir,
        '--out',
        's3://lake/sl',
        '--region',
        'eu-west-1',
        '--account-id',
        '123456789012',
        '--since',
        '2024-05-04',
        '--until',
        '2024-05-05',
      ]);
      expect(r.code, r.err).toBe(0);
      const keys = await new S3Storage('s3://lake/sl').list('ext/');
      expect(keys).toEqual([
        'ext/auditlake-auth/region=eu-west-1/accountId=123456789012/eventDay=20240504/auditlake-20240504.parquet',
        'ext/auditlake-auth/region=eu-west-1/accountId=123456789012/eventDay=20240505/auditlake-20240505.parquet',
        'ext/auditlake-datastore/region=eu-west-1/accountId=123456789012/eventDay=20240504/auditlake-20240504.parquet',
        'ext/auditlake-datastore/region=eu-west-1/accountId=123456789012/eventDay=20240505/auditlake-20240505.parquet',
      ]);
      const local = join(out.dir, 'from-s3.parquet');
      await new S3Storage('s3://lake/sl').download(keys[2], local);
      const { rows } = await readParquet(local);
      expect(rows).toHaveLength(
        lake.events.filter(
          (e) => e.event_date === '2024-05-04' && !['CONNECT', 'DISCONNECT', 'AUTH_FAILURE'].includes(String(e.event_class)),
        ).length,
      );
      for (const row of rows) expect(checkOcsf(row)).toEqual([]);
    } finally {
      await s3.close();
    }
  });

  it('says what is missing', async () => {
    const noAccount = await cli(['export', 'ocsf', '--lake', lake.dir, '--out', out.dir, '--region', 'eu-west-1']);
    expect(noAccount.code).toBe(2);
    expect(noAccount.err).toContain('--account-id is required');
    expect((await cli(['export', 'ocsf', '--lake', lake.dir, '--out', '-'])).err).toContain('--format jsonl');
    expect((await cli(['export', 'cef', '--lake', lake.dir, '--out', '-'])).code).toBe(2);
    expect(
      (await cli(['export', 'ocsf', '--lake', lake.dir, '--out', out.dir, '--region', 'eu-west-1', '--account-id', '12'])).err,
    ).toContain('12 digits');
  });
});
