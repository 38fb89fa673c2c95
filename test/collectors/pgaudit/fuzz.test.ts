import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAuditMessage } from '../../../src/collectors/pgaudit/audit-message.js';
import { type CsvItem, CsvRecordReader } from '../../../src/collectors/pgaudit/csv-records.js';
import { jsonLineToRecord } from '../../../src/collectors/pgaudit/jsonlog.js';
import { parsePrefixedLine, type StderrItem, StderrReader } from '../../../src/collectors/pgaudit/stderr.js';
import { checkEvent } from '../../../src/schema/index.js';
import { collectBytes, expectAccounted, FIXTURE, fixtureLines } from './collect-bytes.js';
import {
  auditLine,
  csvField,
  expectedAudit,
  lineCount,
  lineSplitsOf,
  renderAudit,
  splitsOf,
  stderrRecord,
  trickyText,
} from './log-arbitraries.js';

/** Fixed seed: the same cases on every run; a failure prints the seed and path to replay it. */
const RUNS = { seed: 20_240_501, numRuns: 500 };

/** Feeds `chunks` to a CSV reader the way the collector does and returns every item. */
function readCsv(chunks: string[], flushEmpty: boolean): CsvItem[] {
  const reader = new CsvRecordReader();
  const items: CsvItem[] = [];
  chunks.forEach((c, i) => {
    items.push(...reader.push(c, !flushEmpty && i === chunks.length - 1));
  });
  if (flushEmpty) items.push(...reader.push('', true));
  return items;
}

/** Feeds lines to a stderr reader and returns every item, the last one flushed. */
function readStderr(lines: string[]): StderrItem<number>[] {
  const reader = new StderrReader<number>();
  const items = lines.map((l, i) => reader.push(l, i + 1));
  items.push(reader.flush());
  return items.filter((x) => x !== null);
}

describe('CSV records', () => {
  const records = fc.array(
    fc.record({ fields: fc.array(trickyText(), { minLength: 1, maxLength: 8 }), eol: fc.constantFrom('\n', '\r\n') }),
    { maxLength: 10 },
  );
  const csvText = fc.tuple(records, fc.boolean()).map(([recs, lastEol]) => {
    const rendered = recs.map((r) => r.fields.map(csvField).join(',') + r.eol);
    // Without its newline, a last record of one empty field would be no record at all.
    const last = recs.at(-1);
    if (!lastEol && last && !(last.fields.length === 1 && last.fields[0] === ''))
      rendered[rendered.length - 1] = rendered.at(-1)!.replace(/\r?\n$/, '');
    return { recs, rendered, text: rendered.join('') };
  });

  it('reads back the fields of RFC 4180 records, however the text is split', () => {
    fc.assert(
      fc.property(
        csvText.chain((c) => fc.tuple(fc.constant(c), splitsOf(c.text), fc.boolean())),
        ([{ recs, rendered, text }, chunks, flushEmpty]) => {
          const items = readCsv(chunks, flushEmpty);
          let line = 1;
          const expected = recs.map((r, i) => {
            const item = { ok: true, fields: r.fields, line, raw: rendered[i] };
            line += rendered[i].split('\n').length - 1;
            return item;
          });
          expect(items).toEqual(expected);
          expect(items.map((i) => i.raw).join('')).toBe(text);
        },
      ),
      RUNS,
    );
  });

  /** Items of a garbage text: never an exception, every character and every line in exactly one item. */
  function expectAllLinesRead(text: string, items: CsvItem[]) {
    expect(items.map((i) => i.raw).join('')).toBe(text);
    expect(items.reduce((n, i) => n + lineCount(i.raw), 0)).toBe(lineCount(text));
    let line = 1;
    for (const item of items) {
      expect(item.line).toBe(line);
      if (!item.ok) expect(lineCount(item.raw)).toBe(1);
      line += item.raw.split('\n').length - 1;
    }
  }
  const garbage = fc.oneof(trickyText(200), fc.string({ unit: 'binary', maxLength: 200 }));

  it('never throws on garbage read in whole lines and accounts for every line of it', () => {
    fc.assert(
      fc.property(
        garbage.chain((text) => fc.tuple(fc.constant(text), lineSplitsOf(text), fc.boolean())),
        ([text, chunks, flushEmpty]) => expectAllLinesRead(text, readCsv(chunks, flushEmpty)),
      ),
      RUNS,
    );
  });

  it('never throws on garbage split anywhere and accounts for every line of it', () => {
    fc.assert(
      fc.property(
        garbage.chain((text) => fc.tuple(fc.constant(text), splitsOf(text), fc.boolean())),
        ([text, chunks, flushEmpty]) => expectAllLinesRead(text, readCsv(chunks, flushEmpty)),
      ),
      RUNS,
    );
  });
});

describe('AUDIT messages', () => {
  it('reads back every field as pgAudit writes it', () => {
    fc.assert(
      fc.property(auditLine, (a) => {
        expect(parseAuditMessage(renderAudit(a))).toEqual(expectedAudit(a));
      }),
      RUNS,
    );
  });

  it('never throws on garbage', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          trickyText(80),
          fc.string({ maxLength: 80 }),
          auditLine.map(renderAudit).map((s) => s.slice(0, -3)),
        ),
        (text) => {
          const parsed = parseAuditMessage(text);
          expect(typeof parsed === 'string' || typeof parsed === 'object').toBe(true);
        },
      ),
      RUNS,
    );
  });

  it('rejects a statement id, substatement id or ROWS that is not a decimal number', () => {
    const notDecimal = fc.oneof(
      fc.constantFrom('0x10', '1e3', ' 2', '2 ', '-5', '+1', '1.0', '0b1', '0o7', '١٢'),
      fc.string({ minLength: 1, maxLength: 6 }).filter((s) => !/^\d+$/.test(s) && !/[",\r\n]/.test(s)),
    );
    fc.assert(
      fc.property(auditLine, notDecimal, fc.integer({ min: 1, max: 3 }), (a, bad, slot) => {
        const fields = renderAudit({ ...a, rows: a.rows ?? 0 }).split(',');
        const at = slot === 3 ? fields.length - 1 : slot;
        fields[at] = bad;
        expect(parseAuditMessage(fields.join(','))).toEqual(expect.stringMatching(/not a number/));
      }),
      { ...RUNS, numRuns: 200 },
    );
  });
});

describe('stderr records', () => {
  it('groups prefixed lines, TAB continuations and attached lines back into the records', () => {
    fc.assert(
      fc.property(fc.array(stderrRecord, { minLength: 1, maxLength: 6 }), (records) => {
        const lines = records.flatMap((r) => r.lines);
        let first = 1;
        const expected = records.map((r) => {
          const item = { ok: true, record: r.expected, ref: first, raw: r.lines.join('\n'), invalidUtf8: false };
          first += r.lines.length;
          return item;
        });
        expect(readStderr(lines)).toEqual(expected);
      }),
      RUNS,
    );
  });

  it('reads IPv6 client addresses in %r', () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 1, max: 65535 }), (ip, port) => {
        const parsed = parsePrefixedLine(`2026-11-22 00:55:46 UTC:${ip}(${port}):app@appdb:[42]:LOG:  connection received`);
        expect(parsed?.record).toMatchObject({ timeText: '2026-11-22 00:55:46 UTC', host: ip, port, user: 'app', database: 'appdb' });
      }),
      { ...RUNS, numRuns: 100 },
    );
  });

  it('never throws on garbage and accounts for every line of it', () => {
    const real = fixtureLines(FIXTURE.stderr);
    const line = fc.oneof(
      fc.constantFrom(...real),
      fc.tuple(fc.constantFrom(...real), fc.nat(), fc.nat()).map(([l, a, b]) => l.slice(Math.min(a, b) % (l.length + 1), Math.max(a, b))),
      trickyText(40).map((s) => s.replace(/\n/g, '')),
      trickyText(40).map((s) => `\t${s.replace(/\n/g, '')}`),
      fc.constant(''),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), (lines) => {
        const items = readStderr(lines);
        const read = items.reduce((n, i) => n + i.raw.split('\n').length, 0);
        expect(read + lines.filter((l) => l === '' || l === '\r').length).toBe(lines.length);
      }),
      RUNS,
    );
  });
});

describe('jsonlog lines', () => {
  it('never throws, whatever the line holds', () => {
    const value = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    const record = fc.dictionary(
      fc.constantFrom(
        'timestamp',
        'user',
        'pid',
        'remote_port',
        'txid',
        'error_severity',
        'message',
        'state_code',
        'query_id',
        'leader_pid',
      ),
      value,
    );
    const line = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.json(),
      record.map((o) => JSON.stringify(o)),
    );
    fc.assert(
      fc.property(line, (text) => {
        const parsed = jsonLineToRecord(text);
        if (typeof parsed === 'string') return;
        for (const n of [parsed.pid, parsed.port, parsed.txid, parsed.lineNum, parsed.leaderPid, parsed.cursorPosition]) {
          expect(n === null || Number.isFinite(n)).toBe(true);
        }
      }),
      RUNS,
    );
  });
});

describe('the collector on garbage', () => {
  const SOURCES = [
    { format: 'csvlog', lines: fixtureLines(FIXTURE.csvlog) },
    { format: 'jsonlog', lines: fixtureLines(FIXTURE.jsonlog) },
    { format: 'stderr', lines: fixtureLines(FIXTURE.stderr) },
  ];

  it.each(SOURCES)('never throws on damaged $format and accounts for every record', async ({ format, lines }) => {
    const damaged = fc.array(
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...lines) },
        { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...lines), fc.nat()).map(([l, n]) => l.slice(0, n % (l.length + 1))) },
        { weight: 1, arbitrary: trickyText(40) },
      ),
      { maxLength: 25 },
    );
    await fc.assert(
      fc.asyncProperty(damaged, fc.uint8Array({ maxLength: 8 }), fc.integer({ min: 0, max: 300 }), async (parts, bytes, chunk) => {
        const input = Buffer.concat([Buffer.from(parts.join('\n')), Buffer.from(bytes)]);
        const out = await collectBytes('fuzz', input, format, chunk);
        expectAccounted(out);
      }),
      { ...RUNS, numRuns: 150 },
    );
  });

  it.each([
    ['csvlog', FIXTURE.csvlog, /^([^,]*,(?:"[^"]*")?,(?:"[^"]*")?,)(\d+)(,)/],
    ['jsonlog', FIXTURE.jsonlog, /^(.*"pid":)(\d+)(,)/],
    ['stderr', FIXTURE.stderr, /^(.*:\[)(\d+)(\]:)/],
  ] as const)('yields only events valid against the schema from %s records with odd pids', async (format, path, pid) => {
    const real = fixtureLines(path).filter((l) => pid.test(l) && l.includes('AUDIT: '));
    const odd = fc.oneof(fc.constantFrom('3000000000', '99999999999', '2147483648'), fc.bigInt({ min: 0n, max: 10n ** 12n }).map(String));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...real), odd, async (line, value) => {
        const out = await collectBytes('pid', Buffer.from(line.replace(pid, `$1${value}$3`)), format);
        expectAccounted(out);
        for (const e of out.events) expect(checkEvent(e)).toBeNull();
      }),
      { ...RUNS, numRuns: 100 },
    );
  });
});
