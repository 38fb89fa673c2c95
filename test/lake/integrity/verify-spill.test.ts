import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsStorage } from '../../../src/lake/fs-storage.js';
import { appendDigest } from '../../../src/lake/integrity/chain.js';
import { type DigestRecord, digestKey } from '../../../src/lake/integrity/digest-record.js';
import { compareChanges, ExpectedFiles } from '../../../src/lake/integrity/expected-files.js';
import { compareStrings, ExternalSorter, FAN_IN } from '../../../src/lake/integrity/external-sort.js';
import { bytesDigest } from '../../../src/lake/integrity/file-digest.js';
import { VERIFY_SCRATCH_KEY } from '../../../src/lake/integrity/scratch-dir.js';
import { listStored } from '../../../src/lake/integrity/stored-listing.js';
import { type VerifyEvent, verifyLake } from '../../../src/lake/integrity/verify.js';

/**
 * The parts that keep `verify` in flat memory: the external sort (spilled runs, merged more than
 * `FAN_IN` at a time), the chain replayed through it, the streamed local listing, the scratch folder
 * (in the lake, removed after a run, an error or a signal), and verify itself giving the same
 * findings when every sort spills after two entries as when everything fits in memory.
 */

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('verify in flat memory', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'auditlake-verify-spill-'));
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it('sorts through spilled runs, more than FAN_IN of them, and removes them when read', async () => {
    const dir = join(work, 'sort');
    await mkdir(dir);
    const keys = Array.from({ length: 500 }, (_, i) => `events/${randomBytes(6).toString('hex')}-${i}\n"x"`);
    const sorter = new ExternalSorter<[string, number]>(dir, 'test', (a, b) => compareStrings(a[0], b[0]), 7);
    for (const [i, k] of keys.entries()) await sorter.add([k, i]);
    expect((await readdir(dir)).length).toBeGreaterThan(FAN_IN);
    const sorted = await collect(sorter.sorted());
    expect(sorted.map(([k]) => k)).toEqual([...keys].sort());
    expect(sorted.every(([k, i]) => keys[i] === k)).toBe(true);
    expect(await readdir(dir)).toEqual([]);
    const small = new ExternalSorter<number>(dir, 'small', (a, b) => a - b);
    for (const n of [3, 1, 2]) await small.add(n);
    expect(await readdir(dir)).toEqual([]); // fits in memory: no file
    expect(await collect(small.sorted())).toEqual([1, 2, 3]);
  });

  it('replays the chain as the writer applied it: removals, rewrites, the last write of a key wins', async () => {
    const dir = join(work, 'replay');
    await mkdir(dir);
    const digest = (seq: number, written: string[], removed: string[]): DigestRecord => ({
      format: 'auditlake-digest/1',
      seq,
      previous_sha256: null,
      unit_id: `u${seq}`,
      kind: 'ingest',
      committed_at: `2026-01-0${seq}T00:00:00.000Z`,
      written: written.map((key) => ({ key, sha256: `${key}@${seq}`, bytes: seq })),
      removed,
      rows: 0,
    });
    const state = new ExpectedFiles(new ExternalSorter(dir, 'chain', compareChanges, 1));
    await state.apply(digest(1, ['events/a', 'events/b', 'alerts/x', 'outside/y'], []));
    await state.apply(digest(2, ['events/c'], ['events/a', 'events/b']));
    await state.apply(digest(3, ['events/b', 'events/c'], ['events/c', 'events/zz']));
    const files = await collect(state.files());
    expect(files.map((f) => [f.key, f.sha256, f.bytes, f.committedAt.slice(0, 10)])).toEqual([
      ['events/b', 'events/b@3', 3, '2026-01-03'],
      ['events/c', 'events/c@3', 3, '2026-01-03'],
      ['alerts/x', 'alerts/x@1', 1, '2026-01-01'],
      ['outside/y', 'outside/y@1', 1, '2026-01-01'],
    ]);
  });

  it('lists a local folder as it is walked: nested files, no .tmp names, nothing for a missing folder', async () => {
    const lake = join(work, 'listing');
    for (const key of ['events/a/1.parquet', 'events/a/b/2.parquet', 'events/3.parquet', 'events/4.parquet.123.tmp', 'alerts/5.parquet']) {
      await mkdir(dirname(join(lake, key)), { recursive: true });
      await writeFile(join(lake, key), 'x');
    }
    const storage = new FsStorage(lake);
    const listed = await collect(listStored(storage, 'events/'));
    expect(listed.map((o) => o.key).sort()).toEqual(await storage.list('events/'));
    expect(listed.every((o) => o.size === -1)).toBe(true);
    expect(await collect(listStored(storage, '_quarantine/'))).toEqual([]);
  });

  describe('on a lake of a few units, tampered', () => {
    let lake: string;
    beforeAll(async () => {
      lake = join(work, 'lake');
      const storage = new FsStorage(lake);
      const unit = async (n: number, keys: string[], removed: string[] = []) => {
        const written = [];
        for (const key of keys) {
          const body = randomBytes(100 + n);
          await mkdir(dirname(join(lake, key)), { recursive: true });
          await writeFile(join(lake, key), body);
          written.push({ key, ...bytesDigest(body) });
        }
        for (const key of removed) await unlink(join(lake, key));
        await appendDigest(
          storage,
          { unit_id: `u${n}`, kind: 'ingest', committed_at: new Date().toISOString(), written, removed, rows: 0 },
          null,
        );
      };
      const day = (d: number, i: number) => `events/source=pgaudit/event_date=2026-01-0${d}/part-${i}.parquet`;
      await unit(1, [day(1, 1), day(1, 2), day(2, 3), day(2, 4), '_state/manifests/source=pgaudit/u1.json']);
      await unit(2, [day(3, 5), day(3, 6), '_quarantine/u2.jsonl', '_state/manifests/source=pgaudit/u2.json'], [day(1, 2)]);
      await unit(3, [day(1, 1), 'alerts/rule=r/part-7.parquet', day(4, 8), day(4, 9)]);
      // Tampering: a byte changed, a file deleted, files inserted, a stray name among the digests.
      const changed = await readFile(join(lake, day(2, 3)));
      changed[0] ^= 1;
      await writeFile(join(lake, day(2, 3)), changed);
      await unlink(join(lake, day(4, 8)));
      await unlink(join(lake, '_state/manifests/source=pgaudit/u1.json'));
      await writeFile(join(lake, day(1, 2)), 'back again');
      await writeFile(join(lake, 'alerts/rule=r/part-0.parquet'), 'slipped in');
      await writeFile(join(lake, '_state/digests/notes.txt'), 'not a digest');
    });

    async function run(runSize?: number) {
      const events: VerifyEvent[] = [];
      let scratch: string[] = [];
      const summary = await verifyLake(new FsStorage(lake), {
        runSize,
        onEvent: (e) => {
          if (events.push(e) === 1) scratch = readdirSync(join(lake, VERIFY_SCRATCH_KEY));
        },
      });
      return { summary, events, scratch };
    }

    it('finds the same with every sort spilling after two entries as with none spilling', async () => {
      const spilled = await run(2);
      const inMemory = await run();
      const line = (e: VerifyEvent) => JSON.stringify(e);
      expect(spilled.summary).toEqual(inMemory.summary);
      expect(spilled.events.map(line).sort()).toEqual(inMemory.events.map(line).sort());
      expect(spilled.summary.files).toEqual({ valid: 8, modified: 1, missing: 2, unexpected: 3 });
      // Stray digest names first, missing files last in key order; the rest as listed and hashed.
      const found = spilled.events.filter((e) => e.type === 'file' && e.status !== 'valid').map(line);
      const day = (d: number, i: number) => `events/source=pgaudit/event_date=2026-01-0${d}/part-${i}.parquet`;
      expect(found[0]).toBe(line({ type: 'file', status: 'unexpected', key: '_state/digests/notes.txt', detail: 'not a digest name' }));
      expect(found.slice(-2)).toEqual([
        line({
          type: 'file',
          status: 'missing',
          key: '_state/manifests/source=pgaudit/u1.json',
          detail: 'named by the chain, not in the lake',
        }),
        line({ type: 'file', status: 'missing', key: day(4, 8), detail: 'named by the chain, not in the lake' }),
      ]);
      expect(found.slice(1, -2).sort()).toEqual(
        [
          line({ type: 'file', status: 'unexpected', key: day(1, 2), detail: 'in no digest' }),
          line({ type: 'file', status: 'unexpected', key: 'alerts/rule=r/part-0.parquet', detail: 'in no digest' }),
          expect.stringContaining(`"status":"modified","key":"${day(2, 3)}","detail":"sha256 `),
        ].sort(),
      );
      // The scratch folder was in the lake while verify ran, and is gone after.
      expect(spilled.scratch).toEqual([expect.stringMatching(/^auditlake-verify-/)]);
      expect(await readdir(join(lake, VERIFY_SCRATCH_KEY))).toEqual([]);
    });

    it('removes its scratch folder when the run fails', async () => {
      const storage = new FsStorage(lake);
      const get = storage.get.bind(storage);
      storage.get = async (key: string) => {
        if (key === digestKey(2)) throw new Error('disk on fire');
        return get(key);
      };
      await expect(verifyLake(storage, { runSize: 2, onEvent() {} })).rejects.toThrow('disk on fire');
      expect(await readdir(join(lake, VERIFY_SCRATCH_KEY))).toEqual([]);
    });
  });

  it('creates nothing for a lake that does not exist', async () => {
    const missing = join(work, 'no-such-lake');
    const summary = await verifyLake(new FsStorage(missing), { onEvent() {} });
    expect(summary.digests).toBe(0);
    expect(existsSync(missing)).toBe(false);
  });

  it('removes its scratch folder when the process is stopped by SIGTERM', async () => {
    const lake = join(work, 'signalled');
    await mkdir(lake);
    const script = `
      const { openScratchDir } = await import('./src/lake/integrity/scratch-dir.ts');
      const { FsStorage } = await import('./src/lake/fs-storage.ts');
      const scratch = await openScratchDir(new FsStorage(${JSON.stringify(lake)}));
      process.stdout.write(scratch.path);
      process.kill(process.pid, 'SIGTERM');
      setTimeout(() => process.exit(0), 5000);`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.signal).toBe('SIGTERM');
    expect(child.stdout.startsWith(join(lake, VERIFY_SCRATCH_KEY))).toBe(true);
    expect(existsSync(child.stdout)).toBe(false);
  }, 30_000);
});
