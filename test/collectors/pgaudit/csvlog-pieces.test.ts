import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { CollectorInput } from '../../../src/collectors/contract.js';
import { pgauditCollector } from '../../../src/collectors/pgaudit/collector.js';
import { csvlogPieces } from '../../../src/collectors/pgaudit/csvlog-pieces.js';
import { ENCODE_CHARS } from '../../../src/lake/staging-row.js';
import { ParsePool } from '../../../src/pipeline/parse-pool.js';
import { pieceBatches } from '../../../src/pipeline/pieces.js';
import { createSqlRedactor, redactBatch } from '../../../src/redact/index.js';
import { type Batch, idKey } from '../../../src/schema/index.js';

/**
 * Parsing csvlog in pieces on worker threads must give exactly what reading it whole gives: the same
 * events (ids from line numbers included), rejects and counts, whatever the cuts. Tiny pieces force
 * many cuts, and a statement holding a line that starts like a record forces a wrong cut.
 */

const ctx = { ingestTime: 1_714_600_000_000_000, batchSize: 7, options: {} };

function input(text: Buffer): CollectorInput {
  return {
    name: 'x.csv',
    key: idKey('x'),
    bytes: (async function* () {
      for (let i = 0; i < text.length; i += 1000) yield text.subarray(i, i + 1000);
    })(),
  };
}

async function gather(batches: AsyncIterable<Batch>) {
  const out = { records: 0, events: [] as unknown[], rejected: [] as unknown[], skipped: {} as Record<string, number>, encoded: 0 };
  for await (const b of batches) {
    out.records += b.records;
    out.events.push(...b.events);
    out.rejected.push(...b.rejected, ...(b.encoded?.oversized ?? []));
    for (const [k, v] of Object.entries(b.skipped)) out.skipped[k] = (out.skipped[k] ?? 0) + v;
    out.encoded += b.encoded?.parts.reduce((n, p) => n + p.rows, 0) ?? 0;
  }
  return out;
}

/** Workers redact (built-in rules) before they encode; sequential reading is redacted after the collector, by the pipeline. */
const NO_STAGES = { redact: createSqlRedactor().patterns, transforms: [], encodePieceBytes: ENCODE_CHARS };

async function* redacted(batches: AsyncIterable<Batch>): AsyncIterable<Batch> {
  const redactor = createSqlRedactor();
  for await (const b of batches) yield redactBatch(b, redactor);
}

const pool = new ParsePool(1);
afterAll(() => pool.close());

async function compare(text: Buffer, pieceBytes: number) {
  const whole = await gather(redacted(pgauditCollector.collect(input(text), 'csvlog', ctx)));
  const pieces = await gather(pieceBatches(input(text), 'csvlog', ctx, csvlogPieces, pool, true, NO_STAGES, pieceBytes));
  expect(pieces.encoded).toBe(pieces.events.length);
  expect({ ...pieces, encoded: 0 }).toEqual({ ...whole, encoded: 0 });
  return whole;
}

describe('csvlog in pieces on worker threads', () => {
  it('gives the events of sequential reading on the fixtures, cut into small pieces', async () => {
    for (const fixture of ['fixtures/pgaudit/pg15.csv', 'fixtures/pgaudit/pg13.csv']) {
      const text = await readFile(fixture);
      for (const size of [300, 4096]) expect((await compare(text, size)).events.length).toBeGreaterThan(50);
    }
  });

  it('re-reads a piece cut inside a record, and keeps garbage lines and invalid UTF-8 to themselves', async () => {
    const row = (n: number, message: string) =>
      `2024-05-01 10:00:0${n % 10}.123 UTC,"alice","app",42,"10.0.0.1:5432",665f0a1b.2a,${n},"SELECT","2024-05-01 09:00:00 UTC","3/7",0,LOG,00000,"${message}",,,,,,,,,"psql","client backend",,0\n`;
    const lines = [
      row(1, 'AUDIT: SESSION,1,1,READ,SELECT,,,select 1,<none>'),
      // A quoted statement with a line that starts like a record: the cut before it is wrong.
      row(2, 'AUDIT: SESSION,2,1,READ,SELECT,,,""select\n2024-05-01 10:00:00.000 UTC,1"",<none>'),
      'garbage line without columns\n',
      row(3, 'AUDIT: SESSION,3,1,WRITE,INSERT,,,insert into t values (1),<none>'),
    ];
    const text = Buffer.concat([
      ...lines.map((l) => Buffer.from(l)),
      Buffer.from([0xff, 0x0a]),
      Buffer.from(row(4, 'AUDIT: SESSION,4,1,READ,SELECT,,,select 4,<none>')),
    ]);
    for (const size of [40, 200, 1 << 20]) {
      const whole = await compare(text, size);
      expect(whole.events.length).toBe(4);
      expect(whole.rejected.length).toBe(2);
    }
  });
});
