import { describe, expect, it } from 'vitest';
import { eventDate } from '../../src/lake/layout.js';
import { encodeEvents, MAX_ROW_BYTES, stagingRow } from '../../src/lake/staging-row.js';
import { type AuditEvent, EVENT_FIELDS } from '../../src/schema/index.js';
import { collectFile } from '../support/collect.js';

/**
 * The lake stages events as CSV rows written straight into bytes (`encodeEvents`); `stagingRow` builds the
 * same row as a string (the append writer and the quarantine use it). The bytes of one must be the UTF-8
 * of the other, for real events and for values built to be awkward.
 */

/** Every date's staged bytes, pieces joined in order. */
function bytesByDate(events: readonly AuditEvent[], pieceBytes?: number): Map<string, { bytes: Buffer; rows: number }> {
  const out = new Map<string, { bytes: Buffer; rows: number }>();
  for (const part of encodeEvents(events, pieceBytes).parts) {
    const seen = out.get(part.date) ?? { bytes: Buffer.alloc(0), rows: 0 };
    out.set(part.date, { bytes: Buffer.concat([seen.bytes, part.bytes]), rows: seen.rows + part.rows });
  }
  return out;
}

/** The same, from the string rows. */
function expectedByDate(events: readonly AuditEvent[]): Map<string, { bytes: Buffer; rows: number }> {
  const text = new Map<string, string[]>();
  for (const e of events) {
    const date = eventDate(e.event_time);
    const rows = text.get(date) ?? [];
    rows.push(stagingRow(e));
    text.set(date, rows);
  }
  return new Map([...text].map(([date, rows]) => [date, { bytes: Buffer.from(rows.join(''), 'utf8'), rows: rows.length }]));
}

/** A small deterministic generator, so a failure names its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const AWKWARD = ['"', '""', ',', '\n', '\r\n', 'é', '€', '😀', '\ud800', '\udfff', '\u0000', ' ', 'a', 'NULL', '\\', "'"];

function awkwardText(next: () => number): string {
  const n = Math.floor(next() * 12);
  let s = '';
  for (let i = 0; i < n; i++) s += AWKWARD[Math.floor(next() * AWKWARD.length)];
  return s;
}

/** An event with every field set to something legal for its type, or left null. */
function awkwardEvent(base: AuditEvent, next: () => number): AuditEvent {
  const e: Record<string, unknown> = { ...base };
  for (const f of EVENT_FIELDS) {
    if (f.name === 'event_time' || f.name === 'event_class') continue;
    if (f.nullable && next() < 0.3) {
      e[f.name] = null;
      continue;
    }
    switch (f.type) {
      case 'string':
        e[f.name] = awkwardText(next);
        break;
      case 'string_list':
        e[f.name] = Array.from({ length: Math.floor(next() * 3) }, () => awkwardText(next));
        break;
      case 'boolean':
        e[f.name] = next() < 0.5;
        break;
      case 'double':
        e[f.name] = next() < 0.1 ? Number.NaN : (next() - 0.5) * 1e6;
        break;
      default:
        e[f.name] = Math.floor(next() * 2 ** 40) - 2 ** 39;
    }
  }
  // Two partition dates, interleaved.
  e.event_time = (base.event_time as number) + (next() < 0.5 ? 0 : 86_400_000_000);
  return e as unknown as AuditEvent;
}

describe('staged rows in bytes', () => {
  it('are the UTF-8 of the string rows for every pgAudit fixture, whole or cut into small pieces', async () => {
    for (const fixture of ['pg15.csv', 'pg13.csv', 'pg15.json', 'pg15-rds.log']) {
      const { events } = await collectFile(`fixtures/pgaudit/${fixture}`);
      expect(events.length, fixture).toBeGreaterThan(50);
      const expected = expectedByDate(events);
      expect(bytesByDate(events), fixture).toEqual(expected);
      expect(bytesByDate(events, 300), fixture).toEqual(expected);
    }
  });

  it('are the UTF-8 of the string rows for generated values full of quotes, separators, multi-byte and lone surrogates', async () => {
    const [base] = (await collectFile('fixtures/pgaudit/pg15.csv')).events;
    for (let seed = 1; seed <= 20; seed++) {
      const next = random(seed);
      const events = Array.from({ length: 200 }, () => awkwardEvent(base, next));
      expect(bytesByDate(events, 1 + Math.floor(next() * 4096)), `seed ${seed}`).toEqual(expectedByDate(events));
    }
  });

  it('quarantines a row by its UTF-8 bytes, the unit of DuckDB line limit, not by its characters', async () => {
    const [event] = (await collectFile('fixtures/pgaudit/pg15.csv')).events;
    // Fewer characters than the limit, but more bytes: DuckDB's reader would refuse this line.
    const wide: AuditEvent = { ...event, statement_text: 'é'.repeat(MAX_ROW_BYTES / 2 + 16) };
    const narrow: AuditEvent = { ...event, statement_text: 'e'.repeat(MAX_ROW_BYTES / 2 + 16) };
    expect(stagingRow(wide).length).toBeLessThan(MAX_ROW_BYTES);
    const encoded = encodeEvents([event, wide, narrow]);
    expect(encoded.oversized.map((o) => o.source_ref)).toEqual([wide.source_ref]);
    expect(encoded.oversized[0].raw).toBe(stagingRow(wide).slice(0, 65536));
    expect(encoded.parts.reduce((n, p) => n + p.rows, 0)).toBe(2);
    expect(Buffer.concat(encoded.parts.map((p) => p.bytes)).toString('utf8')).toBe(stagingRow(event) + stagingRow(narrow));
  });
});
