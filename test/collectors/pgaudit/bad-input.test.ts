import { describe, expect, it } from 'vitest';
import {
  type CollectedBatches,
  collectBytes,
  eventWith,
  expectAccounted,
  FIXTURE,
  fixtureLines,
  fixtureText,
  linesToBytes,
  lineWith,
  refLine,
  survivors,
} from './collect-bytes.js';

/**
 * Bad records cut out of the real-server fixtures. Each test reads the clean fixture and a corrupted
 * copy, and checks that exactly the corrupted records are rejected, at their line, with a reason that
 * says what is wrong, while every other record still comes out as it did from the clean file.
 */

/** A one-line AUDIT record present in every format (the first `CREATE EXTENSION pgaudit`). */
const AUDIT_LINE = 'AUDIT: SESSION,1,1,DDL,CREATE EXTENSION,,,CREATE EXTENSION IF NOT EXISTS pgaudit;,<none>,0';
const AUDIT_STATEMENT = 'CREATE EXTENSION IF NOT EXISTS pgaudit;';
/** Another one-line AUDIT record, and the first line of a multi-line one. */
const ROLE_STATEMENT = 'CREATE ROLE auditor NOLOGIN;';
const MULTI_LINE = 'CREATE SEQUENCE,SEQUENCE,public.accounts_id_seq';
/** A record starts at column 0 with its log time in csvlog and stderr; continuation lines do not. */
const RECORD_START = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/;

/** Last line (1-based) of the record that starts on line `first`. */
function recordEnd(lines: string[], first: number): number {
  let n = first;
  while (n < lines.length && !RECORD_START.test(lines[n])) n++;
  return n;
}

/**
 * Collects the clean and the corrupted input under one name and checks what must hold for any bad
 * input: every record accounted for, and the clean run free of rejections.
 */
async function cleanAndBad(name: string, format: string, clean: string[] | string, bad: Buffer | string[] | string) {
  const asBytes = (x: Buffer | string[] | string) => (Buffer.isBuffer(x) ? x : Array.isArray(x) ? linesToBytes(x) : Buffer.from(x));
  const before = await collectBytes(name, asBytes(clean), format);
  const after = await collectBytes(name, asBytes(bad), format);
  expect(before.rejected).toEqual([]);
  expectAccounted(before);
  expectAccounted(after);
  return { before, after };
}

/** The corrupted run lost exactly the records at `lost` (now rejected) and nothing else. */
function expectOnlyLost(before: CollectedBatches, after: CollectedBatches, lost: string[], moved?: (line: number) => number) {
  expect(after.events).toEqual(survivors(before, lost, moved));
  expect(after.skipped).toEqual(before.skipped);
}

describe('csvlog with bad records', () => {
  const lines = fixtureLines(FIXTURE.csvlog);
  const name = 'pg15.csv';

  it('rejects a line cut in an unquoted column as having too few columns', async () => {
    const n = lineWith(lines, AUDIT_LINE);
    const cut = lines[n - 1].slice(0, lines[n - 1].indexOf(',LOG,00000,'));
    const { before, after } = await cleanAndBad(name, 'csvlog', lines, lines.with(n - 1, cut));
    expect(eventWith(before, AUDIT_STATEMENT).source_ref).toBe(`${name}:${n}`);
    expect(after.rejected).toHaveLength(1);
    expect(after.rejected[0].source_ref).toBe(`${name}:${n}`);
    expect(after.rejected[0].reason).toMatch(/csvlog record has 11 columns, expected 24 \(PostgreSQL 13\) or 26/);
    expect(after.rejected[0].raw.trimEnd()).toBe(cut);
    expectOnlyLost(before, after, [`${name}:${n}`]);
    expect(after.records).toBe(before.records);
  });

  it('rejects a line cut inside a quoted field without swallowing the next record', async () => {
    const n = lineWith(lines, AUDIT_LINE);
    const cut = lines[n - 1].slice(0, lines[n - 1].indexOf('AUDIT: SESSION,1,1,DDL') + 22);
    const { before, after } = await cleanAndBad(name, 'csvlog', lines, lines.with(n - 1, cut));
    expect(after.rejected.map((r) => [r.source_ref, r.raw.trimEnd()])).toEqual([[`${name}:${n}`, cut]]);
    expect(after.rejected[0].reason).toMatch(/^malformed csvlog record: /);
    expectOnlyLost(before, after, [`${name}:${n}`]);
  });

  it('rejects each remaining line of a multi-line record cut inside its quoted statement', async () => {
    const first = lineWith(lines, MULTI_LINE);
    const last = recordEnd(lines, first);
    expect(last - first).toBe(5);
    // Keep the first two lines and half of the third; the rest of the record never arrived.
    const third = lines[first + 1];
    const kept = [lines[first - 1], lines[first], third.slice(0, third.indexOf('NOT'))];
    const bad = [...lines.slice(0, first - 1), ...kept, ...lines.slice(last)];
    const removed = last - first + 1 - kept.length;
    const { before, after } = await cleanAndBad(name, 'csvlog', lines, bad);
    expect(after.rejected.map((r) => r.source_ref)).toEqual([0, 1, 2].map((i) => `${name}:${first + i}`));
    expect(after.rejected[0].reason).toMatch(/^malformed csvlog record: /);
    expect(after.rejected[1].reason).toMatch(/csvlog record has 2 columns/);
    expect(after.rejected[2].reason).toMatch(/csvlog record has 1 columns/);
    expect(after.rejected.map((r) => r.raw).join('')).toBe(`${kept.join('\n')}\n`);
    expectOnlyLost(before, after, [`${name}:${first}`], (n) => (n > last ? n - removed : n));
    expect(after.records).toBe(before.records - 1 + kept.length);
  });

  it('rejects a record with a column too many', async () => {
    const n = lineWith(lines, AUDIT_LINE);
    const { before, after } = await cleanAndBad(name, 'csvlog', lines, lines.with(n - 1, `${lines[n - 1]},surplus`));
    expect(after.rejected.map((r) => r.source_ref)).toEqual([`${name}:${n}`]);
    expect(after.rejected[0].reason).toMatch(/csvlog record has 27 columns, expected 24 \(PostgreSQL 13\) or 26/);
    expect(after.rejected[0].raw).toContain(',surplus');
    expectOnlyLost(before, after, [`${name}:${n}`]);
  });

  it('rejects a PostgreSQL 13 record with a column missing', async () => {
    const pg13 = fixtureLines(FIXTURE.csvlog13);
    const n = lineWith(pg13, AUDIT_LINE);
    const short = pg13[n - 1].slice(0, pg13[n - 1].lastIndexOf(','));
    const { before, after } = await cleanAndBad('pg13.csv', 'csvlog', pg13, pg13.with(n - 1, short));
    expect(after.rejected.map((r) => r.source_ref)).toEqual([`pg13.csv:${n}`]);
    expect(after.rejected[0].reason).toMatch(/csvlog record has 23 columns, expected 24/);
    expectOnlyLost(before, after, [`pg13.csv:${n}`]);
  });

  it('rejects only the record holding invalid UTF-8, not the record before it', async () => {
    const n = lineWith(lines, ROLE_STATEMENT);
    const bad = linesToBytes(lines, { line: n, before: 'NOLOGIN', bytes: [0xc3, 0x28] });
    const { before, after } = await cleanAndBad(name, 'csvlog', lines, bad);
    expect(after.rejected.map((r) => [r.source_ref, r.reason])).toEqual([[`${name}:${n}`, `invalid UTF-8 on line ${n}`]]);
    expectOnlyLost(before, after, [`${name}:${n}`]);
  });

  it('rejects a multi-line record at its first line for invalid UTF-8 on a later line', async () => {
    const first = lineWith(lines, MULTI_LINE);
    const bad = linesToBytes(lines, { line: first + 2, before: 'UNIQUE', bytes: [0xc3, 0x28] });
    const { before, after } = await cleanAndBad(name, 'csvlog', lines, bad);
    expect(after.rejected.map((r) => [r.source_ref, r.reason])).toEqual([[`${name}:${first}`, `invalid UTF-8 on line ${first + 2}`]]);
    expect(after.rejected[0].raw).toContain('\uFFFD(');
    expectOnlyLost(before, after, [`${name}:${first}`]);
  });

  it('finds invalid UTF-8 in a multi-line record whose lines arrive in separate reads', async () => {
    const first = lineWith(lines, MULTI_LINE);
    const bad = linesToBytes(lines, { line: first + 2, before: 'UNIQUE', bytes: [0xc3, 0x28] });
    // The read boundary falls right after the bad line, inside the record's quoted statement.
    const cut = linesToBytes(lines.slice(0, first + 2)).length + 3;
    const before = await collectBytes(name, linesToBytes(lines), 'csvlog', [cut - 2]);
    const after = await collectBytes(name, bad, 'csvlog', [cut]);
    expectAccounted(after);
    expect(after.rejected.map((r) => [r.source_ref, r.reason])).toEqual([[`${name}:${first}`, `invalid UTF-8 on line ${first + 2}`]]);
    expectOnlyLost(before, after, [`${name}:${first}`]);
  });
});

/** Each fault turns {@link AUDIT_LINE} into a line pgAudit never writes. */
const AUDIT_FAULTS: { fault: string; text: string; reason: RegExp }[] = [
  { fault: 'too few fields', text: 'AUDIT: SESSION,1,1,DDL,CREATE EXTENSION', reason: /^AUDIT message has 5 fields, expected 9 or 10$/ },
  {
    fault: 'a statement id that is not a number',
    text: AUDIT_LINE.replace('SESSION,1,1,', 'SESSION,x1,1,'),
    reason: /^AUDIT message has a statement id that is not a number$/,
  },
  {
    fault: 'a substatement id that is not a number',
    text: AUDIT_LINE.replace('SESSION,1,1,', 'SESSION,1,1b,'),
    reason: /^AUDIT message has a statement id that is not a number$/,
  },
  {
    fault: 'a ROWS value that is not a number',
    text: AUDIT_LINE.replace(/,0$/, ',zero'),
    reason: /ROWS value that is not a number: "zero"/,
  },
  { fault: 'an unknown audit type', text: AUDIT_LINE.replace('SESSION', 'SESION'), reason: /unknown audit type "SESION"/ },
];

const AUDIT_SOURCES = [
  { name: 'pg15.csv', format: 'csvlog', path: FIXTURE.csvlog },
  { name: 'pg13.csv', format: 'csvlog', path: FIXTURE.csvlog13 },
  { name: 'pg15.json', format: 'jsonlog', path: FIXTURE.jsonlog },
  { name: 'pg15-rds.log', format: 'stderr', path: FIXTURE.stderr },
  { name: 'pg15-rds.cloudwatch-raw.json', format: 'cloudwatch', path: FIXTURE.cloudwatchRaw },
];

describe.each(AUDIT_SOURCES)('garbled AUDIT messages in $name', ({ name, format, path }) => {
  it.each(AUDIT_FAULTS)('rejects an AUDIT line with $fault', async ({ text, reason }) => {
    const clean = fixtureText(path);
    const { before, after } = await cleanAndBad(name, format, clean, clean.replace(AUDIT_LINE, text));
    const ref = eventWith(before, AUDIT_STATEMENT).source_ref;
    if (format === 'cloudwatch') expect(ref).toMatch(/^pg15-rds\.cloudwatch-raw\.json#demo-instance-1\/\d+$/);
    else expect(refLine(ref)).toBe(lineWith(clean.split('\n'), AUDIT_LINE));
    expect(after.rejected.map((r) => r.source_ref)).toEqual([ref]);
    expect(after.rejected[0].reason).toMatch(reason);
    expect(after.rejected[0].raw).toContain(text);
    expectOnlyLost(before, after, [ref]);
    expect(after.records).toBe(before.records);
  });
});

describe('jsonlog with bad lines', () => {
  const lines = fixtureLines(FIXTURE.jsonlog);
  const name = 'pg15.json';
  const n = lineWith(lines, ROLE_STATEMENT);
  const line = lines[n - 1];

  it.each([
    { bad: 'a line cut in half', text: line.slice(0, line.length >> 1), reason: /^malformed jsonlog record: not valid JSON: / },
    { bad: 'a JSON array', text: '["not", "a", "record"]', reason: /^malformed jsonlog record: jsonlog line is not a JSON object$/ },
    { bad: 'an object with no timestamp', text: line.replace('"timestamp"', '"time"'), reason: /has no "timestamp"$/ },
  ])('rejects $bad', async ({ text, reason }) => {
    const { before, after } = await cleanAndBad(name, 'jsonlog', lines, lines.with(n - 1, text));
    expect(after.rejected.map((r) => [r.source_ref, r.raw])).toEqual([[`${name}:${n}`, text]]);
    expect(after.rejected[0].reason).toMatch(reason);
    expectOnlyLost(before, after, [`${name}:${n}`]);
  });

  it('rejects a line holding invalid UTF-8', async () => {
    const { before, after } = await cleanAndBad(
      name,
      'jsonlog',
      lines,
      linesToBytes(lines, { line: n, before: 'NOLOGIN', bytes: [0xc3, 0x28] }),
    );
    expect(after.rejected.map((r) => [r.source_ref, r.reason])).toEqual([[`${name}:${n}`, `invalid UTF-8 on line ${n}`]]);
    expectOnlyLost(before, after, [`${name}:${n}`]);
  });
});

describe('stderr with bad lines', () => {
  const lines = fixtureLines(FIXTURE.stderr);
  const name = 'pg15-rds.log';
  const NO_PREFIX = /^line has no log prefix %t:%r:%u@%d:\[%p\]: and is not a continuation$/;

  it('rejects a line with no prefix between two records', async () => {
    const n = lineWith(lines, ROLE_STATEMENT);
    const bad = lines.toSpliced(n, 0, 'garbage written by something else');
    const { before, after } = await cleanAndBad(name, 'stderr', lines, bad);
    expect(after.rejected.map((r) => [r.source_ref, r.raw])).toEqual([[`${name}:${n + 1}`, 'garbage written by something else']]);
    expect(after.rejected[0].reason).toMatch(NO_PREFIX);
    expectOnlyLost(before, after, [], (m) => (m > n ? m + 1 : m));
  });

  it('rejects a TAB continuation line with no record before it', async () => {
    const { before, after } = await cleanAndBad(name, 'stderr', lines, ['\tcontinued from a previous file', ...lines]);
    expect(after.rejected.map((r) => [r.source_ref, r.reason])).toEqual([
      [`${name}:1`, 'continuation line (TAB) with no record before it'],
    ]);
    expectOnlyLost(before, after, [], (m) => m + 1);
  });

  it('rejects a multi-line AUDIT record cut inside its quoted statement', async () => {
    const first = lineWith(lines, MULTI_LINE);
    const last = recordEnd(lines, first);
    const cut = lines[first - 1].slice(0, lines[first - 1].indexOf('accounts ('));
    const bad = [...lines.slice(0, first - 1), cut, ...lines.slice(last)];
    const { before, after } = await cleanAndBad(name, 'stderr', lines, bad);
    expect(after.rejected.map((r) => [r.source_ref, r.raw])).toEqual([[`${name}:${first}`, cut]]);
    expect(after.rejected[0].reason).toBe('AUDIT message is not valid CSV: unterminated quoted field');
    expectOnlyLost(before, after, [`${name}:${first}`], (m) => (m > last ? m - (last - first) : m));
  });

  it('rejects the continuation lines of a line with no prefix with it, leaving the record before it intact', async () => {
    const first = lineWith(lines, MULTI_LINE);
    const last = recordEnd(lines, first);
    const stripped = lines[first - 1].slice(lines[first - 1].indexOf('AUDIT: '));
    const { before, after } = await cleanAndBad(name, 'stderr', lines, lines.with(first - 1, stripped));
    // The orphaned TAB lines belong to the rejected line, not to the record that happens to precede it.
    expectOnlyLost(before, after, [`${name}:${first}`]);
    expect(after.rejected[0].source_ref).toBe(`${name}:${first}`);
    expect(after.rejected[0].reason).toMatch(NO_PREFIX);
    for (const r of after.rejected) expect(refLine(r.source_ref)).toBeGreaterThanOrEqual(first);
    expect(after.rejected.map((r) => r.raw).join('\n')).toBe([stripped, ...lines.slice(first, last)].join('\n'));
  });

  it('rejects a whole multi-line record for invalid UTF-8 on a continuation line', async () => {
    const first = lineWith(lines, MULTI_LINE);
    const bad = linesToBytes(lines, { line: first + 2, before: 'UNIQUE', bytes: [0xc3, 0x28] });
    const { before, after } = await cleanAndBad(name, 'stderr', lines, bad);
    expect(after.rejected.map((r) => [r.source_ref, r.reason])).toEqual([[`${name}:${first}`, 'invalid UTF-8 in this record']]);
    expect(after.rejected[0].raw.split('\n')).toHaveLength(recordEnd(lines, first) - first + 1);
    expectOnlyLost(before, after, [`${name}:${first}`]);
  });

  it('rejects an ERROR record for invalid UTF-8 in its STATEMENT line', async () => {
    const error = lineWith(lines, 'ERROR:  duplicate key value violates unique constraint');
    const statement = lineWith(lines, 'STATEMENT:  INSERT INTO accounts', error);
    expect(statement - error).toBe(2);
    const bad = linesToBytes(lines, { line: statement, before: 'VALUES', bytes: [0xc3, 0x28] });
    const { before, after } = await cleanAndBad(name, 'stderr', lines, bad);
    expect(after.rejected.map((r) => r.source_ref)).toEqual([`${name}:${error}`]);
    expect(eventWith(before, 'duplicate key value').source_ref).toBe(`${name}:${error}`);
    expectOnlyLost(before, after, [`${name}:${error}`]);
  });
});
