import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryLake } from '../../src/cli/commands/query.js';
import { FsStorage } from '../../src/lake/fs-storage.js';
import { acquireLakeLock, LakeLockedError, LOCK_KEY } from '../../src/lake/lake-lock.js';
import { LakeWriter } from '../../src/lake/lake-writer.js';
import { MAX_ROW_BYTES } from '../../src/lake/staging-row.js';
import type { UnitCommit } from '../../src/lake/unit-commit.js';
import { SKIP_ALREADY_STORED } from '../../src/pipeline/stats.js';
import { writeUnit } from '../../src/pipeline/unit-stage.js';
import { type AuditEvent, EVENT_FIELDS, newBatch } from '../../src/schema/index.js';
import { collectFile } from '../support/collect.js';
import { ingestInto, tempLake } from '../support/lake.js';

const CSV = 'fixtures/pgaudit/pg15.csv';
const JSONLOG = 'fixtures/pgaudit/pg15.json';

async function counts(dir: string): Promise<{ n: string; d: string }> {
  const { rows } = await queryLake(dir, 'SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM audit_events');
  return rows[0] as { n: string; d: string };
}

describe('input identity and units', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    lake = await tempLake();
  });
  afterEach(() => lake.cleanup());

  it('keys an input by its whole content: a shorter copy with the same head loses nothing', async () => {
    const text = await readFile(CSV, 'utf8');
    const lines = text.split('\n');
    const short = join(lake.dir, '..', `${createHash('sha256').update(lake.dir).digest('hex').slice(0, 8)}-short.csv`);
    // Same first 64 KiB is not needed to collide any more; a strict prefix of the log is the worst case.
    await writeFile(short, `${lines.slice(0, Math.floor(lines.length / 2)).join('\n')}\n`);
    const all = (await collectFile(CSV)).events.length;
    const summary = await ingestInto(lake.dir, [CSV, short]);
    expect(await counts(lake.dir)).toEqual({ n: String(all), d: String(all) });
    // The shorter copy's records are the same session lines: counted as already stored, not as written.
    expect(summary.events).toBe(all);
    expect(summary.duplicate_events).toBe((await collectFile(short)).events.length);
    expect(new Set(summary.inputs.map((i) => i.content_sha256)).size).toBe(2);
  });

  it('stores a record once when two inputs hold it (csvlog and jsonlog of one server)', async () => {
    const summary = await ingestInto(lake.dir, [CSV, JSONLOG]);
    const n = (await collectFile(CSV)).events.length;
    expect(await counts(lake.dir)).toEqual({ n: String(n), d: String(n) });
    expect(summary.events + summary.duplicate_events).toBe(2 * n);
    // Both count lines still add up: the repeated records are skipped on purpose, as already stored.
    expect(summary.event_counts.written).toBe(summary.events);
    expect(summary.skipped[SKIP_ALREADY_STORED]).toBe(summary.duplicate_events);
    expect(summary.event_counts.read).toBe(summary.event_counts.written + summary.event_counts.quarantined + summary.event_counts.skipped);
    expect(Object.values(summary.skipped).reduce((a, b) => a + b, 0)).toBe(summary.event_counts.skipped);
  });

  it('counts empty inputs as empty (exit 0) and the same file given twice once', async () => {
    const a = join(lake.dir, '..', `${lake.dir.split('/').pop()}-a.log`);
    const b = join(lake.dir, '..', `${lake.dir.split('/').pop()}-b.log`);
    await writeFile(a, '');
    await writeFile(b, '');
    const summary = await ingestInto(lake.dir, [a, b, CSV, CSV]);
    expect(summary.failed_inputs).toBe(0);
    expect(summary.empty_inputs).toBe(2);
    expect(summary.same_content_inputs).toBe(1);
    expect(summary.events).toBe((await collectFile(CSV)).events.length);
  });

  it('publishes a unit with one commit record: every file with its SHA-256, size and rows', async () => {
    const writer = await LakeWriter.open(lake.storage);
    try {
      const events = (await collectFile(CSV)).events;
      const batch = newBatch();
      batch.events.push(...events);
      batch.records = events.length;
      const { commit } = await writeUnit(writer, {
        source: 'pgaudit',
        name: 'test',
        kind: 'ingest',
        batches: [batch],
        key: () => 'a'.repeat(20),
      });
      const record = commit as UnitCommit;
      expect(record.kind).toBe('ingest');
      expect(record.rows).toBe(events.length);
      for (const w of record.written) {
        const bytes = await readFile(lake.storage.localPath(w.key));
        expect(w.bytes).toBe(bytes.length);
        expect(w.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      }
      expect(await lake.storage.list('_state/pending/')).toEqual([]);
      expect(await lake.storage.list('_state/journal/')).toEqual([]);
    } finally {
      await writer.close();
    }
  });

  it('rolls a failed unit back: nothing visible, nothing pending', async () => {
    const writer = await LakeWriter.open(lake.storage, {
      rollBytes: 2048,
      parquet: (await import('../../src/lake/parquet-convert.js')).DEFAULT_PARQUET,
    });
    try {
      const events = (await collectFile(CSV)).events;
      async function* failing() {
        const batch = newBatch();
        batch.events.push(...events);
        yield batch;
        throw new Error('disk on fire');
      }
      await expect(
        writeUnit(writer, { source: 'pgaudit', name: 'x', kind: 'ingest', batches: failing(), key: () => 'b'.repeat(20) }),
      ).rejects.toThrow('disk on fire');
      expect(await lake.storage.list('events/')).toEqual([]);
      expect(await lake.storage.list('_state/pending/')).toEqual([]);
    } finally {
      await writer.close();
    }
  });

  it('counts an event too large to store as quarantined, not written', async () => {
    const [event] = (await collectFile(CSV)).events;
    const big: AuditEvent = { ...event, event_id: `${event.event_id.slice(0, 20)}ffffffffffff`, statement_text: 'x'.repeat(MAX_ROW_BYTES) };
    const writer = await LakeWriter.open(lake.storage);
    try {
      const batch = newBatch();
      batch.events.push(event, big);
      const { manifest, oversized } = await writeUnit(writer, {
        source: 'pgaudit',
        name: 'big',
        kind: 'ingest',
        batches: [batch],
        key: () => 'c'.repeat(20),
      });
      expect(manifest).toMatchObject({ events: 1, quarantined: 1 });
      expect(Object.values(oversized).reduce((a, b) => a + b, 0)).toBe(1);
    } finally {
      await writer.close();
    }
  });

  it('keeps every control character in every text field, in the first row and a later one', async () => {
    const [base] = (await collectFile(CSV)).events;
    const textFields = EVENT_FIELDS.filter((f) => f.type === 'string' && f.name !== 'event_id' && f.name !== 'event_class');
    const writer = await LakeWriter.open(lake.storage);
    const want = new Map<string, AuditEvent>();
    try {
      for (let c = 0; c < 32; c++) {
        const ch = String.fromCharCode(c);
        const batch = newBatch();
        for (const row of [0, 1, 2]) {
          const e: AuditEvent = { ...base, event_id: `${c.toString(16).padStart(20, '0')}${row.toString(16).padStart(12, '0')}` };
          // Rows 0 and 2 (the first and a later one) carry the character in every text field; row 1 is plain.
          if (row !== 1) for (const f of textFields) (e as unknown as Record<string, unknown>)[f.name] = `${ch}a${ch}\r\n${ch}`;
          if (row !== 1) e.parameters = [`${ch}p\r`];
          batch.events.push(e);
          want.set(e.event_id, e);
        }
        await writeUnit(writer, {
          source: 'pgaudit',
          name: `ctl-${c}`,
          kind: 'ingest',
          batches: [batch],
          key: () => c.toString(16).padStart(20, 'e'),
        });
      }
    } finally {
      await writer.close();
    }
    const cols = textFields.map((f) => `"${f.name}"`).join(', ');
    const { rows } = await queryLake(lake.dir, `SELECT event_id, ${cols}, parameters FROM audit_events`);
    expect(rows).toHaveLength(want.size);
    for (const r of rows as Record<string, unknown>[]) {
      const e = want.get(r.event_id as string) as unknown as Record<string, unknown>;
      for (const f of textFields) expect(r[f.name], `${r.event_id} ${f.name}`).toEqual(e[f.name]);
      expect(r.parameters).toEqual(e.parameters);
    }
  });
});

describe('lake lock', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    lake = await tempLake();
  });
  afterEach(() => lake.cleanup());

  it('refuses a second writer, naming the holder; released, the lake is free again', async () => {
    const first = await acquireLakeLock(lake.storage, 'ingest');
    const err = await acquireLakeLock(new FsStorage(lake.dir), 'compact').catch((e) => e);
    expect(err).toBeInstanceOf(LakeLockedError);
    expect(err.message).toMatch(new RegExp(`auditlake ingest \\(pid ${process.pid} on `));
    await expect(LakeWriter.open(lake.storage, undefined, undefined, { lock: 'ingest' })).rejects.toThrow(
      /being written by another process/,
    );
    await first.release();
    const again = await acquireLakeLock(lake.storage, 'compact');
    await again.release();
  });

  it('takes over the lock of a dead process on this host', async () => {
    const { hostname } = await import('node:os');
    await mkdir(join(lake.dir, '_state'), { recursive: true });
    // pid 2^22 + 1 is above Linux's pid_max: no such process.
    const dead = { command: 'ingest', host: hostname(), pid: 4_194_305, acquired_at: '2026-01-01T00:00:00.000Z', nonce: 'dead' };
    await writeFile(join(lake.dir, LOCK_KEY), JSON.stringify(dead));
    const lock = await acquireLakeLock(lake.storage, 'ingest');
    expect(JSON.parse(await readFile(join(lake.dir, LOCK_KEY), 'utf8')).nonce).toBe(lock.holder.nonce);
    await lock.release();
  });

  it('lets only one of many concurrent writers in', async () => {
    const tries = await Promise.allSettled(Array.from({ length: 8 }, () => acquireLakeLock(new FsStorage(lake.dir), 'ingest')));
    const won = tries.filter((t) => t.status === 'fulfilled');
    expect(won).toHaveLength(1);
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLakeLock>>>).value.release();
  });
});

describe('recovery of units another writer left', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    lake = await tempLake();
  });
  afterEach(() => lake.cleanup());

  /** A storage that may not write another source's files, as a scoped writer role (see `infra/`). */
  class ScopedStorage extends FsStorage {
    override async rename(from: string, to: string): Promise<boolean> {
      if (to.includes('source=proxy')) throw new Error(`AccessDenied: ${to}`);
      return super.rename(from, to);
    }
  }

  it('leaves a unit it may not finish journaled, says why, and goes on writing its own', async () => {
    // A committed unit of the proxy's, left by a writer gone long ago (its id is older than the stale limit).
    const unitId = '20200101T000000-00000000-1-abcd1234';
    const pending = `_state/pending/${unitId}/00000-a.parquet`;
    const target = 'events/source=proxy/event_date=2020-01-01/part-pppppppppppppppppppp-0.parquet';
    await lake.storage.putBytes(pending, 'not really parquet');
    const journal = {
      commit: { unit_id: unitId, kind: 'stream', committed_at: '2020-01-01T00:00:00.000Z', written: [], removed: [], rows: 0 },
      moves: [{ from: pending, to: target }],
      state: [],
    };
    await lake.storage.putBytes(`_state/journal/${unitId}.json`, JSON.stringify(journal));
    const writer = await LakeWriter.open(new ScopedStorage(lake.dir), undefined, undefined, { lock: 'ingest' });
    try {
      expect(writer.recovered.unfinished).toEqual([{ unit_id: unitId, error: `AccessDenied: ${target}` }]);
      expect(await lake.storage.list('_state/journal/')).toEqual([`_state/journal/${unitId}.json`]);
      // Its pending file is the unit's, committed: kept for the writer that can finish it.
      expect(await lake.storage.list('_state/pending/')).toEqual([pending]);
      // Its own units still commit.
      const { events } = await collectFile(CSV);
      const { commit } = await writeUnit(writer, {
        source: 'pgaudit',
        name: 'own',
        kind: 'ingest',
        batches: [{ ...newBatch(), events, records: events.length }],
        key: () => 'c'.repeat(20),
      });
      expect(commit?.rows).toBe(events.length);
    } finally {
      await writer.close();
    }
  });

  it('reports a damaged journal as unfinished, naming it, and still opens the lake', async () => {
    const unitId = '20200101T000000-00000000-1-dddd0000';
    await lake.storage.putBytes(`_state/journal/${unitId}.json`, '{"commit": ');
    const writer = await LakeWriter.open(lake.storage, undefined, undefined, { lock: 'ingest' });
    try {
      expect(writer.recovered.unfinished).toHaveLength(1);
      expect(writer.recovered.unfinished[0].unit_id).toBe(unitId);
      expect(writer.recovered.unfinished[0].error).toContain(`_state/journal/${unitId}.json is not JSON`);
    } finally {
      await writer.close();
    }
  });
});
