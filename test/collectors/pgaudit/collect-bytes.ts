import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { expect } from 'vitest';
import { pgauditCollector } from '../../../src/collectors/pgaudit/collector.js';
import { type AuditEvent, type Batch, eventId } from '../../../src/schema/index.js';
import type { Collected } from '../../support/collect.js';

/** The real-server fixtures the bad inputs are derived from. */
export const FIXTURE = {
  csvlog: 'fixtures/pgaudit/pg15.csv',
  csvlog13: 'fixtures/pgaudit/pg13.csv',
  jsonlog: 'fixtures/pgaudit/pg15.json',
  stderr: 'fixtures/pgaudit/pg15-rds.log',
  cloudwatch: 'fixtures/pgaudit/pg15-rds.cloudwatch.json',
  cloudwatchRaw: 'fixtures/pgaudit/pg15-rds.cloudwatch-raw.json.gz',
  controlMessage: 'fixtures/pgaudit/control-message.cloudwatch.json.gz',
} as const;

/** Id key every in-memory input is read with, so event ids can be recomputed from line numbers. */
export const KEY = 'k'.repeat(20);

/** What a collector made of one input, batch by batch as well as in total. */
export interface CollectedBatches extends Collected {
  batches: Batch[];
}

/**
 * Runs the pgaudit collector over `bytes` and gathers everything it yields. `reads` says how the bytes
 * arrive: whole (0), in pieces of that many bytes, or cut at the given offsets.
 */
export async function collectBytes(name: string, bytes: Buffer, format: string, reads: number | number[] = 0): Promise<CollectedBatches> {
  const cuts = Array.isArray(reads) ? reads : [];
  if (typeof reads === 'number' && reads > 0) for (let i = reads; i < bytes.length; i += reads) cuts.push(i);
  async function* pieces() {
    let start = 0;
    for (const cut of [...cuts, bytes.length]) {
      yield bytes.subarray(start, cut);
      start = cut;
    }
  }
  const out: CollectedBatches = { format, records: 0, events: [], rejected: [], skipped: {}, batches: [] };
  const ctx = { ingestTime: 0, batchSize: 1000, options: {} };
  for await (const b of pgauditCollector.collect({ name, key: KEY, bytes: pieces() }, format, ctx)) {
    out.batches.push(b);
    out.records += b.records;
    out.events.push(...b.events);
    out.rejected.push(...b.rejected);
    for (const [k, v] of Object.entries(b.skipped)) out.skipped[k] = (out.skipped[k] ?? 0) + v;
  }
  return out;
}

/** Sum of the skipped counts. */
export function skippedCount(skipped: Record<string, number>): number {
  return Object.values(skipped).reduce((a, b) => a + b, 0);
}

/** Every record read became exactly one of: an event, a rejection, a skip; in each batch and in total. */
export function expectAccounted(c: CollectedBatches): void {
  for (const b of c.batches) expect(b.records).toBe(b.events.length + b.rejected.length + skippedCount(b.skipped));
  expect(c.records).toBe(c.events.length + c.rejected.length + skippedCount(c.skipped));
}

/** A fixture's text: CloudWatch raw payloads are gunzipped, the rest read as is. */
export function fixtureText(path: string): string {
  const bytes = readFileSync(path);
  return (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
}

/** A fixture's lines, split on LF only (a CR before the LF stays on its line, so joining restores the file). */
export function fixtureLines(path: string): string[] {
  return fixtureText(path).split('\n');
}

/** 1-based number of the first line holding `text` (after line `from`). */
export function lineWith(lines: string[], text: string, from = 0): number {
  const i = lines.findIndex((l, n) => n >= from && l.includes(text));
  if (i === -1) throw new Error(`no line holds ${JSON.stringify(text)}`);
  return i + 1;
}

/** Lines back to bytes; `bad` puts raw bytes into one line just before `before` (text on that line). */
export function linesToBytes(lines: string[], bad?: { line: number; before: string; bytes: number[] }): Buffer {
  const parts: Buffer[] = [];
  lines.forEach((l, i) => {
    if (i > 0) parts.push(Buffer.from('\n'));
    if (bad && bad.line === i + 1) {
      const at = l.indexOf(bad.before);
      if (at === -1) throw new Error(`line ${bad.line} does not hold ${JSON.stringify(bad.before)}`);
      parts.push(Buffer.from(l.slice(0, at)), Buffer.from(bad.bytes), Buffer.from(l.slice(at)));
    } else {
      parts.push(Buffer.from(l));
    }
  });
  return Buffer.concat(parts);
}

/** Line number of a `name:line` source_ref. */
export function refLine(ref: string): number {
  const m = /:(\d+)$/.exec(ref);
  if (!m) throw new Error(`source_ref ${ref} names no line`);
  return Number(m[1]);
}

/**
 * What a corrupted input must still yield: the clean run's events except those at `lost` source refs,
 * with line numbers (and so event ids) moved by `moved` where lines were added or removed before them.
 */
export function survivors(clean: Collected, lost: string[], moved?: (line: number) => number): AuditEvent[] {
  return clean.events
    .filter((e) => !lost.includes(e.source_ref))
    .map((e) => {
      if (!moved) return e;
      const line = moved(refLine(e.source_ref));
      // A record numbered within its input moves with its line; one with its own identity (session id and line) keeps its id.
      const event_id = e.event_id.startsWith(KEY) ? eventId(KEY, line) : e.event_id;
      return { ...e, source_ref: e.source_ref.replace(/:\d+$/, `:${line}`), event_id };
    });
}

/** The clean run's event whose statement (or message) holds `text`: the record a test corrupts. */
export function eventWith(clean: Collected, text: string): AuditEvent {
  const e = clean.events.find((x) => x.statement_text?.includes(text) || x.error_message?.includes(text));
  if (!e) throw new Error(`no event holds ${JSON.stringify(text)}`);
  return e;
}
