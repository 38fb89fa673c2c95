import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgauditCollector } from '../../../src/collectors/pgaudit/collector.js';
import { FsStorage } from '../../../src/lake/fs-storage.js';
import type { InputManifest } from '../../../src/lake/lake-writer.js';
import { contentKey } from '../../../src/pipeline/ingest.js';
import { openFile } from '../../../src/pipeline/open-input.js';
import type { Rejected } from '../../../src/schema/index.js';
import { ingestInto } from '../../support/lake.js';
import {
  type CollectedBatches,
  collectBytes,
  expectAccounted,
  FIXTURE,
  fixtureLines,
  linesToBytes,
  lineWith,
  refLine,
  skippedCount,
} from './collect-bytes.js';

/**
 * Bad inputs that reach the lake: a gzip file that ends early, a file in no known format, and a csvlog
 * with bad records. What cannot be read lands in `_quarantine/` with where it was, why, and its text.
 */

interface QuarantineLine extends Rejected {
  input: string;
  source: string;
  ingest_time: string;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auditlake-bad-input-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A fresh lake folder and the quarantine lines ingesting `paths` into it wrote, by file. */
async function ingestToLake(lake: string, paths: string[]) {
  const summary = await ingestInto(lake, paths);
  const storage = new FsStorage(lake);
  const quarantine: Record<string, QuarantineLine[]> = {};
  for (const key of await storage.list('_quarantine/')) {
    const text = (await storage.get(key))?.toString('utf8') ?? '';
    quarantine[key] = text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l));
  }
  return { summary, quarantine, storage };
}

/** Byte offsets where the csvlog records of `text` start (a record starts at column 0 with its log time). */
function recordStarts(text: Buffer): number[] {
  const starts: number[] = [];
  for (let at = 0; at < text.length; at = text.indexOf(0x0a, at) + 1) {
    if (/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ UTC,/.test(text.subarray(at, at + 30).toString('latin1'))) starts.push(at);
    if (text.indexOf(0x0a, at) === -1) break;
  }
  return starts;
}

/** 1-based line number of byte offset `at`. */
function lineAt(text: Buffer, at: number): number {
  let n = 1;
  for (let i = text.indexOf(0x0a); i !== -1 && i < at; i = text.indexOf(0x0a, i + 1)) n++;
  return n;
}

describe('a gzip csvlog that ends early', () => {
  const csv = readFileSync(FIXTURE.csvlog);
  const gz = gzipSync(csv);
  const cut = gz.subarray(0, Math.floor(gz.length * 0.7));
  // All that can be decompressed from the bytes that did arrive.
  const prefix = gunzipSync(cut, { finishFlush: constants.Z_SYNC_FLUSH });
  const starts = recordStarts(csv);
  const complete = starts.filter((_, i) => (starts[i + 1] ?? csv.length) <= prefix.length);
  const partial = starts.find((s, i) => s < prefix.length && (starts[i + 1] ?? csv.length) > prefix.length);
  let path: string;
  let clean: CollectedBatches;

  beforeAll(async () => {
    path = join(dir, 'pg15.csv.gz');
    writeFileSync(path, cut);
    clean = await collectBytes(path, csv, 'csvlog');
    expect(clean.records).toBe(starts.length);
    expect(prefix.equals(csv.subarray(0, prefix.length))).toBe(true);
    // The cut falls inside a one-line record, so that record is rejected whole.
    expect(partial).toBeDefined();
    expect(prefix.subarray(partial).includes(0x0a)).toBe(false);
  });

  /** The clean run's events from records wholly inside the decompressed prefix (csvlog ids come from session id and line: the same in the cut copy). */
  function expectedEvents() {
    const lines = new Set(complete.map((s) => lineAt(csv, s)));
    return clean.events.filter((e) => lines.has(refLine(e.source_ref)));
  }

  it('yields every record before the cut, rejects the one cut through, and reports the failure', async () => {
    const input = await openFile(path);
    expect(input.gzip).toBe(true);
    expect(pgauditCollector.detect(input.head)).toBe('csvlog');
    const out: CollectedBatches = { format: 'csvlog', records: 0, events: [], rejected: [], skipped: {}, batches: [] };
    for await (const b of pgauditCollector.collect(input, 'csvlog', { ingestTime: 0, batchSize: 1000, options: {} })) {
      out.batches.push(b);
      out.records += b.records;
      out.events.push(...b.events);
      out.rejected.push(...b.rejected);
      for (const [k, v] of Object.entries(b.skipped)) out.skipped[k] = (out.skipped[k] ?? 0) + v;
    }
    expectAccounted(out);
    expect(input.failure).toEqual({ message: 'unexpected end of file', offset: prefix.length });
    expect(out.events).toEqual(expectedEvents());
    expect(out.records).toBe(complete.length + 1);
    expect(out.rejected.map((r) => r.source_ref)).toEqual([`${path}:${lineAt(csv, partial as number)}`]);
    expect(out.rejected[0].reason).toMatch(/^malformed csvlog record: |^csvlog record has \d+ columns/);
    expect(out.rejected[0].raw).toBe(prefix.subarray(partial).toString('utf8'));
  });

  it('quarantines the cut record and where the input ended, and writes the rest', async () => {
    const lake = join(dir, 'lake-gzip');
    const { summary, quarantine } = await ingestToLake(lake, [path]);
    const [stats] = summary.inputs;
    expect(stats.error).toBeNull();
    expect(stats.format).toBe('csvlog');
    expect(stats.records).toBe(stats.events + stats.quarantined + skippedCount(stats.skipped));
    expect(stats.quarantined).toBe(2);
    expect(stats.records).toBe(complete.length + 2);
    expect(stats.events).toBe(expectedEvents().length);
    const keys = Object.keys(quarantine);
    expect(keys).toEqual([`_quarantine/source=pgaudit/event_date=2026-11-22/part-${contentKey(stats.content_sha256 as string)}.jsonl`]);
    const lines = quarantine[keys[0]];
    expect(lines.map((l) => [l.source_ref, l.raw])).toEqual([
      [`${path}:${lineAt(csv, partial as number)}`, prefix.subarray(partial).toString('utf8')],
      [`${path}@${prefix.length}`, ''],
    ]);
    expect(lines[1].reason).toBe('input ends early: unexpected end of file');
    for (const l of lines) expect(l).toMatchObject({ input: path, source: 'pgaudit', reason: expect.any(String) });
  });
});

describe('an input in no known format', () => {
  /** Deterministic pseudo-random words: text that is no log at all. */
  function randomText(lines: number): string {
    let seed = 20240501;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const word = () => Array.from({ length: 2 + (next() % 9) }, () => 'abcdefghijklmnopqrstuvwxyz,.:;"{}'[next() % 33]).join('');
    return Array.from({ length: lines }, () => Array.from({ length: 1 + (next() % 12) }, word).join(' ')).join('\n');
  }

  it('fails that input alone, quarantining its head with the reason', async () => {
    const text = randomText(2000);
    expect(pgauditCollector.detect(text)).toBeNull();
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, text);
    const good = join(dir, 'pg15.csv');
    writeFileSync(good, readFileSync(FIXTURE.csvlog));
    const clean = await collectBytes(good, readFileSync(FIXTURE.csvlog), 'csvlog');
    const lake = join(dir, 'lake-unknown');
    const { summary, quarantine, storage } = await ingestToLake(lake, [notes, good]);
    expect(summary.failed_inputs).toBe(1);
    const [bad, ok] = summary.inputs;
    expect(bad).toMatchObject({ input: notes, format: null, records: 1, events: 0, quarantined: 1, skipped: {} });
    expect(bad.error).toMatch(/^format not recognized \(not csvlog, jsonlog, RDS stderr, CloudWatch.*\); pass --format$/);
    expect(ok).toMatchObject({ error: null, format: 'csvlog', records: clean.records, events: clean.events.length, quarantined: 0 });
    const key = contentKey(bad.content_sha256 as string);
    const file = Object.keys(quarantine).find((k) => k.startsWith('_quarantine/source=unknown/'));
    expect(file).toMatch(new RegExp(`^_quarantine/source=unknown/event_date=\\d{4}-\\d\\d-\\d\\d/part-${key}\\.jsonl$`));
    expect(quarantine[file as string]).toEqual([
      expect.objectContaining({ source_ref: notes, reason: bad.error, raw: text.slice(0, 4096), input: notes, source: 'unknown' }),
    ]);
    const manifest: InputManifest = JSON.parse(
      (await readFile(storage.localPath(`_state/manifests/source=unknown/${key}.json`))).toString(),
    );
    expect(manifest).toMatchObject({ events: 0, quarantined: 1, files: [], quarantine_file: file });
  });
});

describe('a csvlog with bad records, ingested', () => {
  it('quarantines each bad record with its line, reason and text, and writes every other event', async () => {
    const lines = fixtureLines(FIXTURE.csvlog);
    const surplus = lineWith(lines, 'CREATE ROLE auditor NOLOGIN;');
    const garbled = lineWith(lines, 'CREATE DATABASE appdb');
    const bad = lines
      .with(surplus - 1, `${lines[surplus - 1]},surplus`)
      .with(garbled - 1, lines[garbled - 1].replace('AUDIT: SESSION,4,1,', 'AUDIT: SESSION,four,1,'));
    const path = join(dir, 'bad.csv');
    writeFileSync(path, linesToBytes(bad));
    const clean = await collectBytes(path, linesToBytes(lines), 'csvlog');
    const collected = await collectBytes(path, linesToBytes(bad), 'csvlog');
    expect(collected.rejected.map((r) => r.source_ref)).toEqual([`${path}:${surplus}`, `${path}:${garbled}`]);

    const { summary, quarantine } = await ingestToLake(join(dir, 'lake-csv'), [path]);
    const [stats] = summary.inputs;
    expect(stats).toMatchObject({ records: clean.records, events: clean.events.length - 2, quarantined: 2, error: null });
    expect(stats.records).toBe(stats.events + stats.quarantined + skippedCount(stats.skipped));
    const written = Object.values(quarantine).flat();
    expect(written.map(({ source_ref, reason, raw }) => ({ source_ref, reason, raw }))).toEqual(collected.rejected);
    expect(written[0].reason).toMatch(/csvlog record has 27 columns/);
    expect(written[0].raw).toContain('CREATE ROLE auditor NOLOGIN;');
    expect(written[1].reason).toBe('AUDIT message has a statement id that is not a number');
    expect(written[1].raw).toContain('AUDIT: SESSION,four,1,');
  });
});

describe('a record with a pid out of range, ingested', () => {
  /** Where each format keeps `%p`; PostgreSQL's pids fit in an int, a damaged line's need not. */
  const PID = {
    csvlog: { path: FIXTURE.csvlog, pid: /^([^,]*,"[^"]*","[^"]*",)(\d+)(,)/ },
    jsonlog: { path: FIXTURE.jsonlog, pid: /^(.*"pid":)(\d+)(,)/ },
    stderr: { path: FIXTURE.stderr, pid: /^(.*:\[)(\d+)(\]:)/ },
  };

  it.each(Object.keys(PID) as (keyof typeof PID)[])(
    'fails neither the %s input nor the run, and writes every other event',
    async (format) => {
      const { path, pid } = PID[format];
      const lines = fixtureLines(path);
      const n = lineWith(lines, 'CREATE ROLE auditor NOLOGIN;');
      expect(lines[n - 1]).toMatch(pid);
      const file = join(dir, `pid-${path.split('/').pop()}`);
      writeFileSync(file, linesToBytes(lines.with(n - 1, lines[n - 1].replace(pid, '$13000000000$3'))));
      const clean = await collectBytes(file, readFileSync(path), format);
      const { summary } = await ingestToLake(join(dir, `lake-pid-${format}`), [file]);
      const [stats] = summary.inputs;
      expect(stats.error).toBeNull();
      expect(stats.records).toBe(stats.events + stats.quarantined + skippedCount(stats.skipped));
      // The damaged record is quarantined or written without its pid; nothing else is lost.
      expect(stats.events + stats.quarantined).toBe(clean.events.length);
      expect(stats.events).toBeGreaterThanOrEqual(clean.events.length - 1);
    },
  );
});
