import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { queryLake } from '../../src/cli/commands/query.js';
import { UNIT_FAULT_ENV } from '../../src/lake/unit.js';
import type { RunSummary } from '../../src/pipeline/stats.js';
import { cli } from '../support/cli.js';
import { collectFile } from '../support/collect.js';
import { tempLake } from '../support/lake.js';
import { downloadLake, TestS3 } from '../support/s3.js';

const CSV = 'fixtures/pgaudit/pg15.csv';
const STDERR = 'fixtures/pgaudit/pg15-rds.log';
const JSONLOG = 'fixtures/pgaudit/pg15.json';

async function ingestJson(...argv: string[]): Promise<RunSummary> {
  const run = await cli('ingest', ...argv, '--json');
  expect(run.err).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.out) as RunSummary;
}

/** Distinct events of the inputs: a record in two inputs (the csvlog and jsonlog of one server) has one id and is stored once. */
async function expectedEvents(paths: string[]): Promise<number> {
  const ids = new Set<string>();
  for (const p of paths) for (const e of (await collectFile(p)).events) ids.add(e.event_id);
  return ids.size;
}

describe('S3 lake and S3 inputs (s3rver)', () => {
  let s3: TestS3;
  let local: Awaited<ReturnType<typeof tempLake>>;
  beforeAll(async () => {
    s3 = await TestS3.start();
  });
  afterAll(() => s3.close());
  beforeEach(async () => {
    local = await tempLake();
  });
  afterEach(() => local.cleanup());

  /** count(*) and count(DISTINCT event_id) of an S3 lake, read back with DuckDB after copying it locally. */
  async function s3Counts(url: string): Promise<{ n: string; d: string }> {
    await local.cleanup();
    await downloadLake(url, local.dir);
    const { rows } = await queryLake(local.dir, 'SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM audit_events');
    return rows[0] as { n: string; d: string };
  }

  it('ingests into S3: the files read back equal the collected events, and every write asks for SSE', async () => {
    const first = s3.requests.length;
    const summary = await ingestJson(CSV, STDERR, '--out', 's3://lake/t1');
    const collected = [...(await collectFile(CSV)).events, ...(await collectFile(STDERR)).events];
    expect(summary.events).toBe(collected.length);
    const keys = await downloadLake('s3://lake/t1', local.dir);
    expect(keys.filter((k) => k.startsWith('_state/manifests/'))).toHaveLength(2);
    const { rows } = await queryLake(
      local.dir,
      'SELECT event_id, source_ref, statement_text, parameters, epoch_us(event_time) AS t FROM audit_events ORDER BY event_id',
    );
    const want = collected
      .map((e) => ({
        event_id: e.event_id,
        source_ref: e.source_ref,
        statement_text: e.statement_text,
        parameters: e.parameters,
        t: String(e.event_time),
      }))
      .sort((a, b) => a.event_id.localeCompare(b.event_id));
    expect(rows).toEqual(want);
    const writes = s3.requests.slice(first).filter((r) => r.method === 'PUT' || (r.method === 'POST' && r.url.includes('uploads')));
    // Data files are uploaded pending and copied into place when their unit commits; nothing is left pending.
    expect(keys.filter((k) => k.startsWith('_state/pending/') || k.startsWith('_state/journal/'))).toEqual([]);
    const copies = writes.filter((w) => w.headers['x-amz-copy-source']);
    expect(copies.length).toBe(keys.filter((k) => !k.startsWith('_state/')).length);
    for (const w of writes) expect(w.headers['x-amz-server-side-encryption'], w.url).toBe('AES256');
  });

  it('leaves no staging folder behind in the temp directory (ingest and compact of an S3 lake)', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'auditlake-s3-tmp-'));
    try {
      for (const args of [
        ['ingest', CSV, '--out', 's3://lake/t-tmp'],
        ['compact', '--lake', 's3://lake/t-tmp'],
      ]) {
        const code = await new Promise<number | null>((resolve) => {
          const child = spawn(process.execPath, ['bin/auditlake.js', ...args], { env: { ...process.env, TMPDIR: tmp }, stdio: 'ignore' });
          child.on('exit', resolve);
        });
        expect(code).toBe(0);
        // (tsx, the development launcher, keeps its own cache there.)
        expect((await readdir(tmp)).filter((name) => name.startsWith('auditlake-'))).toEqual([]);
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }, 60_000);

  it('says clearly that querying S3 in place needs httpfs, and what to do instead', async () => {
    await ingestJson(CSV, '--out', 's3://lake/t-query');
    const r = await cli('query', '--lake', 's3://lake/t-query', 'SELECT count(*) FROM audit_events');
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('httpfs');
    // DuckDB's own reason is kept: "not found" here, but a broken or mismatched extension says so too.
    expect(r.err).toMatch(/could not be loaded \(IO Error: Extension .*httpfs.* not found\./);
    expect(r.err).toContain('aws s3 sync s3://lake/t-query ./lake');
  });

  it('ingests from an S3 prefix (gzip too), and a re-run reads only new objects', async () => {
    await s3.put('logs', 'pg/a/pg15.csv', await readFile(CSV));
    await s3.put('logs', 'pg/b/pg15-rds.log.gz', gzipSync(await readFile(STDERR)));
    await s3.put('logs', 'other/pg15.json', await readFile(JSONLOG));
    const two = await expectedEvents([CSV, STDERR]);
    const first = await ingestJson('s3://logs/pg/', '--out', 's3://lake/t2');
    expect(first.inputs.map((i) => i.input)).toEqual(['s3://logs/pg/a/pg15.csv', 's3://logs/pg/b/pg15-rds.log.gz']);
    expect(first).toMatchObject({ events: two, failed_inputs: 0, already_ingested: 0 });
    const again = await ingestJson('s3://logs/pg/', '--out', 's3://lake/t2');
    expect(again).toMatchObject({ inputs: [], events: 0, already_ingested: 2 });
    expect(await s3Counts('s3://lake/t2')).toEqual({ n: String(two), d: String(two) });
    const { rows } = await queryLake(
      local.dir,
      "SELECT DISTINCT split_part(source_ref, ':', 1) || ':' || split_part(source_ref, ':', 2) AS f FROM audit_events ORDER BY 1",
    );
    expect(rows).toEqual([{ f: 's3://logs/pg/a/pg15.csv' }, { f: 's3://logs/pg/b/pg15-rds.log.gz' }]);

    await s3.put('logs', 'pg/c/pg15.json', await readFile(JSONLOG));
    const third = await ingestJson('s3://logs/pg/', '--out', 's3://lake/t2');
    expect(third.inputs.map((i) => i.input)).toEqual(['s3://logs/pg/c/pg15.json']);
    expect(third.already_ingested).toBe(2);
    const all = await expectedEvents([CSV, STDERR, JSONLOG]);
    expect(await s3Counts('s3://lake/t2')).toEqual({ n: String(all), d: String(all) });

    // Forgetting what was ingested (a new lake state) re-reads everything: same events, no duplicates.
    const state = (await downloadLake('s3://lake/t2', local.dir)).filter((k) => k.startsWith('_state/s3-inputs/'));
    expect(state).toHaveLength(1);
    const compacted = JSON.parse((await cli('compact', '--lake', 's3://lake/t2', '--json')).out);
    expect(compacted.files_merged).toBeGreaterThan(compacted.files_written);
    expect(compacted.rows).toBe(all);
    const lakeStorage = new (await import('../../src/lake/s3-storage.js')).S3Storage('s3://lake/t2');
    await lakeStorage.delete(state[0]);
    const rerun = await ingestJson('s3://logs/pg/', '--out', 's3://lake/t2');
    expect(rerun).toMatchObject({ already_ingested: 0 });
    // The jsonlog repeats the csvlog's records: counted as already stored, not written twice.
    expect(rerun.events + rerun.duplicate_events).toBe(two + (await expectedEvents([JSONLOG])));
    expect(await s3Counts('s3://lake/t2')).toEqual({ n: String(all), d: String(all) });
  });

  it('compacts an S3 lake safely: killed halfway, the next run finishes the job', async () => {
    await ingestJson(CSV, JSONLOG, STDERR, '--out', 's3://lake/t4', '--roll-mb', '0.004');
    const expected = await expectedEvents([CSV, JSONLOG, STDERR]);
    const killed = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
      const child = spawn(process.execPath, ['bin/auditlake.js', 'compact', '--lake', 's3://lake/t4'], {
        env: { ...process.env, [UNIT_FAULT_ENV]: 'compaction-moved-1' },
        stdio: 'ignore',
      });
      child.on('error', reject);
      child.on('exit', (_code, signal) => resolve(signal));
    });
    expect(killed).toBe('SIGKILL');
    const run = JSON.parse((await cli('compact', '--lake', 's3://lake/t4', '--json')).out);
    expect(run.recovered).toEqual({ rolledForward: 1, rolledBack: 0 });
    // The killed compaction had committed: rolled forward, it left nothing more to merge.
    expect(run.rows).toBe(0);
    expect(await s3Counts('s3://lake/t4')).toEqual({ n: String(expected), d: String(expected) });
    const keys = await downloadLake('s3://lake/t4', local.dir);
    expect(keys.filter((k) => k.startsWith('_state/journal/') || k.startsWith('_state/pending/'))).toEqual([]);
    expect(keys.filter((k) => k.startsWith('events/')).every((k) => k.includes('/part-c'))).toBe(true);
  }, 180_000);

  it('fails clearly when S3 goes away mid-run; the next run completes with nothing lost or duplicated', async () => {
    for (const f of [CSV, STDERR, JSONLOG]) await s3.put('logs', `kill/${f.split('/').pop()}`, await readFile(f));
    const expected = await expectedEvents([CSV, STDERR, JSONLOG]);
    let stopping: Promise<void> | null = null;
    s3.onEvent = (e) => {
      if (!stopping && e.bucket === 'lake' && e.key.startsWith('t3/_state/manifests/')) stopping = s3.stop();
    };
    const failed = await cli('ingest', 's3://logs/kill/', '--out', 's3://lake/t3');
    s3.onEvent = null;
    expect(stopping).not.toBeNull();
    await stopping;
    // One line naming the call and object, after the SDK's retries with backoff.
    expect(failed.code).toBe(1);
    expect(failed.err).toMatch(
      /^auditlake ingest: (Put|Get|Copy|Delete)Object s3:\/\/lake\/t3\/\S+: connect ECONNREFUSED \S+ \(after 5 attempts\)\n$/,
    );
    await s3.restart();
    const second = await ingestJson('s3://logs/kill/', '--out', 's3://lake/t3');
    expect(second.failed_inputs).toBe(0);
    expect(await s3Counts('s3://lake/t3')).toEqual({ n: String(expected), d: String(expected) });
  });
});
