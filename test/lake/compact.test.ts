import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryLake } from '../../src/cli/commands/query.js';
import { compactLake, planBins } from '../../src/lake/compact.js';
import { DEFAULT_PARQUET } from '../../src/lake/parquet-convert.js';
import { UNIT_FAULT_ENV } from '../../src/lake/unit.js';
import { collectFile } from '../support/collect.js';
import { ingestInto, tempLake } from '../support/lake.js';

const CSV = 'fixtures/pgaudit/pg15.csv';
const STDERR = 'fixtures/pgaudit/pg15-rds.log';
const JSONLOG = 'fixtures/pgaudit/pg15.json';

async function counts(dir: string): Promise<{ n: string; d: string }> {
  const { rows } = await queryLake(dir, 'SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM audit_events');
  return rows[0] as { n: string; d: string };
}

/** Distinct events of the inputs: a record in two inputs (the csvlog and jsonlog of one server) has one id and is stored once. */
async function expectedEvents(paths: string[]): Promise<number> {
  const ids = new Set<string>();
  for (const p of paths) for (const e of (await collectFile(p)).events) ids.add(e.event_id);
  return ids.size;
}

/** Runs `auditlake compact` in a child process; resolves with its exit code and signal. */
function compactChild(dir: string, env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/auditlake.js', 'compact', '--lake', dir, '--target-mb', '64'], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}

const compactOptions = { targetBytes: 64 * 1024 * 1024, parquet: DEFAULT_PARQUET };

describe('compaction', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    lake = await tempLake();
  });
  afterEach(() => lake.cleanup());

  it('plans runs of small files up to the target and leaves single files alone', () => {
    const o = (key: string, size: number) => ({ key, size });
    expect(planBins([o('a', 10), o('b', 10), o('c', 10), o('big', 100), o('d', 15)], 30)).toEqual([[o('a', 10), o('b', 10), o('c', 10)]]);
    expect(planBins([o('a', 20), o('b', 20), o('c', 20), o('d', 20)], 45)).toEqual([
      [o('a', 20), o('b', 20)],
      [o('c', 20), o('d', 20)],
    ]);
    expect(planBins([o('a', 10)], 30)).toEqual([]);
  });

  it('merges small files per partition into one, with every event once', async () => {
    await ingestInto(lake.dir, [CSV, STDERR], 'auto', 4096);
    const before = (await lake.storage.list('events/')).filter((k) => k.endsWith('.parquet'));
    const partitions = new Set(before.map((k) => k.replace(/[^/]+$/, '')));
    expect(before.length).toBeGreaterThan(partitions.size * 2);
    const expected = await expectedEvents([CSV, STDERR]);
    const summary = await compactLake(lake.storage, compactOptions);
    expect(summary).toMatchObject({ partitions: partitions.size, files_merged: before.length, rows: expected });
    const after = (await lake.storage.list('events/')).filter((k) => k.endsWith('.parquet'));
    expect(after).toHaveLength(partitions.size);
    for (const k of after) expect(k).toMatch(/\/part-c[0-9a-f]{16}-0\.parquet$/);
    expect(await counts(lake.dir)).toEqual({ n: String(expected), d: String(expected) });
    expect(await lake.storage.list('_state/journal/')).toEqual([]);
    expect((await lake.storage.list('_state/compacted/')).length).toBe(partitions.size);
    // Nothing left to merge: a second run changes nothing.
    expect(await compactLake(lake.storage, compactOptions)).toMatchObject({ partitions_compacted: 0 });
    expect((await lake.storage.list('events/')).filter((k) => k.endsWith('.parquet'))).toEqual(after);
  });

  it('keeps re-ingest idempotent after compaction: the input leaves the compacted files', async () => {
    await ingestInto(lake.dir, [CSV, JSONLOG], 'auto', 4096);
    await compactLake(lake.storage, compactOptions);
    const expected = await expectedEvents([CSV, JSONLOG]);
    await ingestInto(lake.dir, [CSV]);
    expect(await counts(lake.dir)).toEqual({ n: String(expected), d: String(expected) });
    // Compacting again merges the fresh file back in, still once each.
    await compactLake(lake.storage, compactOptions);
    await ingestInto(lake.dir, [JSONLOG, CSV], 'auto', 4096);
    expect(await counts(lake.dir)).toEqual({ n: String(expected), d: String(expected) });
    await compactLake(lake.storage, compactOptions);
    expect(await counts(lake.dir)).toEqual({ n: String(expected), d: String(expected) });
  });

  it('only touches the partitions --date and --source select', async () => {
    await ingestInto(lake.dir, [CSV], 'auto', 4096);
    const files = (await lake.storage.list('events/')).filter((k) => k.endsWith('.parquet'));
    const date = /event_date=([\d-]+)/.exec(files[0])?.[1] as string;
    const summary = await compactLake(lake.storage, { ...compactOptions, source: 'pgaudit', date });
    expect(summary.partitions).toBe(1);
    const others = files.filter((k) => !k.includes(`event_date=${date}/`));
    const now = await lake.storage.list('events/');
    for (const k of others) expect(now).toContain(k);
    expect(await compactLake(lake.storage, { ...compactOptions, source: 'das' })).toMatchObject({ partitions: 0 });
  });

  // Steps of a compaction unit (see src/lake/unit.ts): pending files stored, journal stored, first file
  // moved into place, everything published (hooks and journal deletion left).
  for (const step of ['compaction-staged', 'compaction-journal', 'compaction-moved-1', 'compaction-published']) {
    it(`survives SIGKILL after step "${step}": the next run finishes or undoes it`, async () => {
      await ingestInto(lake.dir, [CSV, STDERR], 'auto', 4096);
      const expected = await expectedEvents([CSV, STDERR]);
      const killed = await compactChild(lake.dir, { [UNIT_FAULT_ENV]: step });
      expect(killed.signal).toBe('SIGKILL');
      const journals = await lake.storage.list('_state/journal/');
      expect(journals.length).toBe(step === 'compaction-staged' ? 0 : 1);
      if (step === 'compaction-staged') {
        expect((await lake.storage.list('_state/pending/')).length).toBeGreaterThan(0);
        // Before the commit nothing of the compaction is visible.
        expect((await lake.storage.list('events/')).some((k) => k.includes('/part-c'))).toBe(false);
        expect(await counts(lake.dir)).toEqual({ n: String(expected), d: String(expected) });
      }
      // An ingest of another input also recovers; compact then completes.
      if (step === 'compaction-journal') await ingestInto(lake.dir, [JSONLOG]);
      const summary = await compactLake(lake.storage, compactOptions);
      expect(summary.recovered.rolledForward + summary.recovered.rolledBack).toBe(step === 'compaction-journal' ? 0 : 1);
      const total = step === 'compaction-journal' ? await expectedEvents([CSV, STDERR, JSONLOG]) : expected;
      expect(await counts(lake.dir)).toEqual({ n: String(total), d: String(total) });
      expect(await lake.storage.list('_state/journal/')).toEqual([]);
      expect(await lake.storage.list('_state/pending/')).toEqual([]);
      const files = (await lake.storage.list('events/')).filter((k) => k.endsWith('.parquet'));
      const indexes = await lake.storage.list('_state/compacted/');
      expect(indexes.map((k) => k.replace('_state/compacted/', '').replace(/\.json$/, '.parquet'))).toEqual(
        files.filter((k) => k.includes('/part-c')),
      );
    });
  }
});
