import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commandFromTag, encodeErrorResponse, parseErrorResponse } from '../../src/proxy/backend-messages.js';
import { classifyTag, classifyText } from '../../src/proxy/classify.js';
import { parseBind, parseParse, parseStartupMessage } from '../../src/proxy/frontend-messages.js';
import { parameterExtras, recordParameters } from '../../src/proxy/parameters.js';
import { MessageFormatError } from '../../src/proxy/reader.js';
import { firstKeywords, splitStatements } from '../../src/proxy/sql-text.js';
import { bind, parse, startupMessage } from './wire.js';

const body = (m: Buffer) => m.subarray(5);

describe('message parsers', () => {
  it('reads a StartupMessage', () => {
    expect(parseStartupMessage(startupMessage({ user: 'bob', database: 'db' }).subarray(4))).toEqual({
      protocol: 196608,
      params: { user: 'bob', database: 'db' },
    });
  });

  it('reads Parse and Bind with text, binary and NULL values', () => {
    expect(parseParse(body(parse('s', 'select $1, $2', [23, 0])))).toEqual({ name: 's', text: 'select $1, $2', paramTypes: [23, 0] });
    const b = parseBind(body(bind('p', 's', ['héllo', Buffer.from([0, 0, 0, 42]), null])));
    expect(b.formats).toEqual([0, 1, 0]);
    const rec = recordParameters(b, [25, 23]);
    expect(rec.values).toEqual(['héllo', 'AAAAKg==', '']);
    expect(parameterExtras(rec)).toEqual({ null_parameters: [3], binary_parameters: [{ index: 2, type_oid: 23 }] });
  });

  it('rejects a truncated Bind instead of guessing', () => {
    const m = body(bind('', '', ['abc']));
    expect(() => parseBind(m.subarray(0, m.length - 4))).toThrow(MessageFormatError);
  });

  it('reads ErrorResponse fields and round-trips the encoder', () => {
    const e = encodeErrorResponse({ severity: 'FATAL', code: '08001', message: 'no server' });
    expect(e[0]).toBe(0x45);
    expect(parseErrorResponse(e.subarray(5))).toEqual({ severity: 'FATAL', code: '08001', message: 'no server' });
  });

  it('splits command tags into command and rows', () => {
    expect(commandFromTag('INSERT 0 5')).toEqual({ tag: 'INSERT 0 5', command: 'INSERT', rows: 5 });
    expect(commandFromTag('SELECT 0')).toMatchObject({ command: 'SELECT', rows: 0 });
    expect(commandFromTag('COPY 3')).toMatchObject({ command: 'COPY', rows: 3 });
    expect(commandFromTag('CREATE TABLE')).toMatchObject({ command: 'CREATE TABLE', rows: null });
  });

  it('never throws anything but MessageFormatError on random bodies (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        for (const fn of [parseBind, parseParse, parseStartupMessage]) {
          try {
            fn(Buffer.from(bytes));
          } catch (err) {
            expect(err).toBeInstanceOf(MessageFormatError);
          }
        }
      }),
    );
  });
});

describe('statement splitting', () => {
  it.each([
    ['select 1; select 2', ['select 1', 'select 2']],
    ["select ';'; select 2;", ["select ';'", 'select 2']],
    ["select E'\\';'; select 2", ["select E'\\';'", 'select 2']],
    ['select "a;b" from t; ;; -- x;\n', ['select "a;b" from t']],
    ['do $$ begin perform 1; end $$; select 2', ['do $$ begin perform 1; end $$', 'select 2']],
    ['do $f$ select 1; $f$; /* a; /* b; */ c; */ select 3', ['do $f$ select 1; $f$', '/* a; /* b; */ c; */ select 3']],
    ['select $1; select 2', ['select $1', 'select 2']],
  ])('%s', (text, expected) => {
    expect(splitStatements(text)).toEqual(expected);
  });

  it('refuses BEGIN ATOMIC bodies', () => {
    expect(splitStatements('create function f() returns int begin atomic select 1; end; select 2')).toBeNull();
  });

  it('reads first keywords past comments and parentheses', () => {
    expect(firstKeywords('/* hi */ -- x\n (select 1)')).toEqual(['SELECT']);
    expect(firstKeywords('create role bob')).toEqual(['CREATE', 'ROLE']);
  });
});

describe('classification', () => {
  it.each([
    ['SELECT', null, 'READ'],
    ['INSERT', null, 'WRITE'],
    ['TRUNCATE TABLE', null, 'WRITE'],
    ['COPY', 'out', 'READ'],
    ['COPY', 'in', 'WRITE'],
    ['CREATE TABLE', null, 'DDL'],
    ['CREATE ROLE', null, 'ROLE'],
    ['GRANT', null, 'ROLE'],
    ['CALL', null, 'FUNCTION'],
    ['BEGIN', null, 'MISC'],
  ] as const)('tag %s (copy %s) is %s', (tag, copy, cls) => {
    expect(classifyTag(tag, copy, null).eventClass).toBe(cls);
  });

  it('classifies failed statements by their first keywords', () => {
    expect(classifyText('select 1/0', null)).toEqual({ eventClass: 'READ', command: 'SELECT', objectType: null });
    expect(classifyText('ALTER USER x', null)).toEqual({ eventClass: 'ROLE', command: 'ALTER USER', objectType: 'ROLE' });
    expect(classifyText('drop table nope', null)).toEqual({ eventClass: 'DDL', command: 'DROP TABLE', objectType: 'TABLE' });
    expect(classifyText("copy t to '/x'", null).eventClass).toBe('READ');
    expect(classifyText('selec 1', null)).toEqual({ eventClass: 'ERROR', command: null, objectType: null });
  });
});
