import fc from 'fast-check';
import type { AuditFields } from '../../../src/collectors/pgaudit/audit-message.js';
import { emptyLogRecord, type LogRecord } from '../../../src/collectors/pgaudit/log-record.js';

/**
 * fast-check arbitraries for server log text, each with the encoder that renders it the way
 * PostgreSQL or pgAudit does and the value a reader must give back.
 */

/** Characters that matter to CSV and to log prefixes, mixed with ordinary and non-ASCII text. */
const TRICKY = fc.constantFrom(',', '"', '\r', '\n', '\r\n', '""', ':', '@', '[', ']', '(', ')', '\t', ' ');
const PLAIN = fc.constantFrom('a', 'Z', '0', '9', ';', '$', '-', '.', '<', '>');

/** Text biased towards the characters CSV quoting is about; `unicode` adds any code point. */
export function trickyText(maxLength = 12): fc.Arbitrary<string> {
  return fc.string({
    unit: fc.oneof(
      { weight: 4, arbitrary: TRICKY },
      { weight: 6, arbitrary: PLAIN },
      { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    ),
    maxLength,
  });
}

/** Splits `text` at arbitrary offsets, as a stream would. */
export function splitsOf(text: string): fc.Arbitrary<string[]> {
  return fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, text.length - 1) }), { maxLength: 6 }).map((cuts) => {
    const at = cuts.filter((c) => c < text.length).sort((a, b) => a - b);
    return [0, ...at].map((start, i) => text.slice(start, at[i] ?? text.length));
  });
}

/** Splits `text` after arbitrary newlines, as the collector's line-aligned text chunks do. */
export function lineSplitsOf(text: string): fc.Arbitrary<string[]> {
  const ends = [...text.matchAll(/\n/g)].map((m) => (m.index as number) + 1).filter((e) => e < text.length);
  return fc.subarray(ends).map((at) => [0, ...at].map((start, i) => text.slice(start, at[i] ?? text.length)));
}

/** A CSV field as RFC 4180 and pgAudit write it: quoted only when it holds `,` `"` CR or LF; inner quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Lines of a text: newlines, plus one for a last line with no newline. */
export function lineCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return text === '' || text.endsWith('\n') ? n : n + 1;
}

const PLACEHOLDERS = ['<none>', '<not logged>', '<previously logged>'];
const CLASSES = ['READ', 'WRITE', 'FUNCTION', 'ROLE', 'DDL', 'MISC'];

/** What pgAudit logged of the statement and its parameters (pgaudit.log_statement, log_parameter, log_statement_once). */
type Logged = 'with parameters' | 'parameters not logged' | 'not logged' | 'previously logged';

/** One AUDIT line's values. `params` null entries are NULL parameters. */
export interface AuditLine {
  auditType: 'SESSION' | 'OBJECT';
  statementId: number;
  substatementId: number;
  auditClass: string;
  command: string;
  objectType: string;
  objectName: string;
  logged: Logged;
  statement: string;
  params: (string | null)[];
  rows: number | null;
}

export const auditLine: fc.Arbitrary<AuditLine> = fc
  .record({
    auditType: fc.constantFrom('SESSION', 'OBJECT'),
    statementId: fc.maxSafeNat(),
    substatementId: fc.maxSafeNat(),
    auditClass: fc.oneof(fc.constantFrom(...CLASSES, 'MISC_SET'), fc.stringMatching(/^[A-Z][A-Z_]{0,9}$/)),
    command: trickyText(),
    objectType: trickyText(),
    objectName: trickyText(),
    logged: fc.constantFrom<Logged>('with parameters', 'parameters not logged', 'not logged', 'previously logged'),
    statement: trickyText(40),
    params: fc.array(fc.option(trickyText(), { nil: null }), { maxLength: 6 }),
    rows: fc.option(fc.maxSafeNat(), { nil: null }),
  })
  // A placeholder as the statement, or as a lone parameter, reads back as the placeholder: pgAudit's format cannot tell.
  .filter((a) => !PLACEHOLDERS.includes(a.statement) && !(a.params.length === 1 && PLACEHOLDERS.includes(a.params[0] ?? '')));

/** The text after `AUDIT: `, as pgaudit.c's `log_audit_event` and `append_valid_csv` write it. */
export function renderAudit(a: AuditLine): string {
  let statement = csvField(a.statement);
  // PARAMETER is itself a CSV row (NULL is an empty slot), quoted once more as one field.
  let parameter = a.params.length === 0 ? '<none>' : csvField(a.params.map((p) => (p === null ? '' : csvField(p))).join(','));
  if (a.logged === 'parameters not logged') parameter = '<not logged>';
  if (a.logged === 'not logged' || a.logged === 'previously logged') statement = parameter = `<${a.logged}>`;
  const fields = [
    a.auditType,
    a.statementId,
    a.substatementId,
    a.auditClass,
    csvField(a.command),
    csvField(a.objectType),
    csvField(a.objectName),
  ];
  return [...fields, statement, parameter, ...(a.rows === null ? [] : [a.rows])].join(',');
}

/** What `parseAuditMessage` must give back for a line. */
export function expectedAudit(a: AuditLine): AuditFields {
  const eventClass = a.auditClass === 'MISC_SET' ? 'MISC' : CLASSES.includes(a.auditClass) ? a.auditClass : 'MISC';
  const statementLogged = a.logged === 'with parameters' || a.logged === 'parameters not logged';
  return {
    auditType: a.auditType,
    statementId: a.statementId,
    substatementId: a.substatementId,
    eventClass: eventClass as AuditFields['eventClass'],
    auditClass: a.auditClass === eventClass ? null : a.auditClass,
    command: a.command || null,
    objectType: a.objectType || null,
    objectName: a.objectName || null,
    statement: statementLogged ? a.statement : null,
    parameters: a.logged === 'with parameters' ? a.params.map((p) => p ?? '') : null,
    rows: a.rows,
    placeholder: a.logged === 'with parameters' ? null : a.logged === 'parameters not logged' ? '<not logged>' : `<${a.logged}>`,
  };
}

/** One line of log text: anything but a newline. */
const lineText = trickyText(30).map((s) => s.replace(/[\r\n]/g, ''));

/** A message of one or more lines. */
const multiLine = fc.array(lineText, { minLength: 1, maxLength: 4 });

/** `%r`: `host(port)`, `[local]`, or empty for background processes. */
const remote = fc.oneof(
  fc.constant({ text: '[local]', host: '[local]', port: null }),
  fc.constant({ text: '', host: null, port: null }),
  fc
    .tuple(fc.oneof(fc.ipV4(), fc.domain(), fc.constant('localhost')), fc.integer({ min: 1, max: 65535 }))
    .map(([host, port]) => ({ text: `${host}(${port})`, host, port })),
);

/** `%u` / `%d`: a name, empty (background process) or `[unknown]` (before authentication). */
const roleName = fc.oneof(fc.constantFrom('', '[unknown]'), fc.stringMatching(/^[a-z_][a-z0-9_$.-]{0,11}$/));

const ATTACHED = ['DETAIL', 'HINT', 'QUERY', 'CONTEXT', 'LOCATION', 'STATEMENT'] as const;

/** One stderr record: its prefixed line, TAB continuation lines and attached DETAIL/HINT/... lines. */
export interface StderrRecord {
  lines: string[];
  expected: LogRecord;
}

/** `%t` with or without milliseconds (`%m`), in a few zones. */
const logTime = fc
  .tuple(
    fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }),
    fc.boolean(),
    fc.constantFrom('UTC', 'GMT', 'CET', '+03', '-05'),
  )
  .map(
    ([d, ms, zone]) =>
      `${d
        .toISOString()
        .slice(0, ms ? 23 : 19)
        .replace('T', ' ')} ${zone}`,
  );

export const stderrRecord: fc.Arbitrary<StderrRecord> = fc
  .record({
    time: logTime,
    remote,
    user: roleName,
    database: roleName,
    pid: fc.option(fc.integer({ min: 1, max: 4_194_304 }), { nil: null }),
    severity: fc.constantFrom('LOG', 'ERROR', 'FATAL', 'WARNING', 'NOTICE', 'PANIC', 'INFO', 'DEBUG1'),
    message: multiLine,
    attached: fc.subarray([...ATTACHED]).chain((kinds) => fc.tuple(...kinds.map((k) => multiLine.map((text) => ({ kind: k, text }))))),
    cursor: fc.option(fc.integer({ min: 1, max: 99_999 }), { nil: null }),
  })
  .map((r) => {
    const prefix = `${r.time}:${r.remote.text}:${r.user}@${r.database}:[${r.pid ?? ''}]:`;
    const hasStatement = r.attached.some((a) => a.kind === 'STATEMENT');
    // stderr appends an error's position to its message when there is a statement; the reader moves it back.
    const positioned = (r.severity === 'ERROR' || r.severity === 'FATAL') && hasStatement;
    const message = [...r.message];
    if (positioned && r.cursor !== null) message[message.length - 1] += ` at character ${r.cursor}`;
    const lines = [`${prefix}${r.severity}:  ${message[0]}`, ...message.slice(1).map((l) => `\t${l}`)];
    const expected = emptyLogRecord(r.time, r.severity, r.message.join('\n'));
    expected.host = r.remote.host;
    expected.port = r.remote.port;
    expected.user = r.user === '' || r.user === '[unknown]' ? null : r.user;
    expected.database = r.database === '' || r.database === '[unknown]' ? null : r.database;
    expected.pid = r.pid;
    expected.cursorPosition = positioned ? r.cursor : null;
    for (const { kind, text } of r.attached) {
      lines.push(`${prefix}${kind}:  ${text[0]}`, ...text.slice(1).map((l) => `\t${l}`));
      const field = { DETAIL: 'detail', HINT: 'hint', CONTEXT: 'context', STATEMENT: 'statement' } as const;
      if (kind in field) expected[field[kind as keyof typeof field]] = text.join('\n');
    }
    return { lines, expected, ambiguous: positioned && r.cursor === null && / at character \d+$/.test(expected.message) };
  })
  .filter((r) => !r.ambiguous)
  .map(({ lines, expected }) => ({ lines, expected }));
