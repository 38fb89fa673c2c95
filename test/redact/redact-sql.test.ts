import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSqlRedactor, parseRedactConfig, redactBatch, scrubRaw, scrubText } from '../../src/redact/index.js';
import { newBatch } from '../../src/schema/index.js';

const builtIn = createSqlRedactor();
const redact = (text: string) => builtIn.statement(text).text;

describe('SQL redactor', () => {
  it('redacts the literal after PASSWORD in CREATE/ALTER ROLE, USER and GROUP, as pgAudit writes it', () => {
    expect(redact("ALTER ROLE alice PASSWORD 'N3wSecret77'")).toBe('ALTER ROLE alice PASSWORD <REDACTED>');
    expect(redact("CREATE ROLE bob LOGIN PASSWORD 'B0bSecret88'")).toBe('CREATE ROLE bob LOGIN PASSWORD <REDACTED>');
    expect(redact("create user u with encrypted password 'x' valid until '2027-01-01'")).toBe(
      "create user u with encrypted password <REDACTED> valid until '2027-01-01'",
    );
    expect(redact("ALTER GROUP g PASSWORD E'it\\'s'")).toBe('ALTER GROUP g PASSWORD <REDACTED>');
    expect(redact('alter role a password $tag$a$b$$tag$ login')).toBe('alter role a password <REDACTED> login');
    expect(redact('alter role a password $$x$$')).toBe('alter role a password <REDACTED>');
    expect(redact("ALTER USER a PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$abc:def'")).toBe('ALTER USER a PASSWORD <REDACTED>');
    expect(redact("alter role a password 'md5' \n 'continued'")).toBe('alter role a password <REDACTED>');
    expect(redact("CREATE USER MAPPING FOR bob SERVER s OPTIONS (user 'bob', password 'fdw-pw')")).toBe(
      "CREATE USER MAPPING FOR bob SERVER s OPTIONS (user 'bob', password <REDACTED>)",
    );
    expect(redact('alter role a password null')).toBe('alter role a password null');
  });

  it('looks at every statement of a multi-statement string', () => {
    expect(redact("SET application_name = 'x'; CREATE ROLE c PASSWORD 'pw1';alter role d password 'pw2'")).toBe(
      "SET application_name = 'x'; CREATE ROLE c PASSWORD <REDACTED>;alter role d password <REDACTED>",
    );
  });

  it('leaves comments, strings and other statements that merely mention PASSWORD', () => {
    for (const text of [
      "select password from users where password = 'abc'",
      "SELECT 'ALTER ROLE a PASSWORD ''x''' AS c",
      "/* alter role a password 'x' */ select 1",
      "-- CREATE ROLE b PASSWORD 'y'\nselect 2",
      "comment on role alice is 'password hint'",
      'ALTER ROLE a PASSWORD <REDACTED>',
      "update accounts set password = 'HASH2'",
    ])
      expect(redact(text)).toBe(text);
  });

  it('reports a parameter that carries the password', () => {
    expect(builtIn.statement('ALTER ROLE alice PASSWORD $1 VALID UNTIL $2')).toEqual({
      text: 'ALTER ROLE alice PASSWORD $1 VALID UNTIL $2',
      parameters: [1],
    });
  });

  it('an unterminated literal is redacted to the end', () => {
    expect(redact("alter role a password 'never closed; select 1")).toBe('alter role a password <REDACTED>');
  });

  it('applies configured function arguments and settings', async () => {
    const r = createSqlRedactor(
      await parseRedactConfig('functions:\n  - name: pgp_sym_encrypt\n    arguments: [2]\nsettings: [my.secret]\n', 'redact.yaml'),
    );
    expect(r.statement("select pgp_sym_encrypt('data', 'key-1'), pgp_sym_encrypt(x, $3) from t").text).toBe(
      "select pgp_sym_encrypt('data', <REDACTED>), pgp_sym_encrypt(x, $3) from t",
    );
    expect(r.statement('select public.PGP_SYM_ENCRYPT($1, $2)').parameters).toEqual([2]);
    expect(r.statement("SET my.secret = 'abc'").text).toBe('SET my.secret = <REDACTED>');
    expect(r.statement("set local my.secret to 'abc'; select 1").text).toBe('set local my.secret to <REDACTED>; select 1');
    expect(r.statement("alter role x set my.secret = 'v'").text).toBe('alter role x set my.secret = <REDACTED>');
    expect(r.statement("select set_config('my.secret', 'v', false)").text).toBe("select set_config('my.secret', <REDACTED>, false)");
    expect(r.statement("set my.other = 'v'").text).toBe("set my.other = 'v'");
  });

  it('refuses an invalid config file with a message naming the problem', async () => {
    await expect(parseRedactConfig('functions:\n  - name: f\n', 'r.yaml')).rejects.toThrow(
      /r.yaml: invalid redaction config[\s\S]*arguments/,
    );
    await expect(parseRedactConfig('pattern: x\n', 'r.yaml')).rejects.toThrow(/pattern/);
  });

  // Statements built from parts, each with its expected redacted form: no secret survives, nothing else changes.
  it('fuzz: no secret survives and nothing else changes', () => {
    const space = fc.constantFrom(' ', '\n', '\t', " /* PASSWORD 'c' */ ", " -- password 'd'\n");
    const secretBody = fc.string({
      unit: fc.constantFrom('a', 'Z', '9', "'", '\\', '$', ';', ' ', '"', '-', '*', '/', 'é', '\n'),
      maxLength: 12,
    });
    const literal = fc.tuple(fc.constantFrom('plain', 'E', 'e', 'dollar', 'tag'), secretBody).map(([form, body]) => {
      const secret = `Zq${body}`;
      switch (form) {
        case 'plain':
          return `'${secret.replaceAll("'", "''")}'`;
        case 'E':
        case 'e':
          return `${form}'${secret.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
        case 'dollar':
          return secret.includes('$') ? `'${secret.replaceAll("'", "''")}'` : `$$${secret}$$`;
        default:
          return secret.includes('$q1$') ? `$q2$${secret}$q2$` : `$q1$${secret}$q1$`;
      }
    });
    const option = fc.oneof(
      fc.constantFrom(
        ['LOGIN', 'LOGIN'],
        ["VALID UNTIL '2027-01-01'", "VALID UNTIL '2027-01-01'"],
        ['CONNECTION LIMIT 3', 'CONNECTION LIMIT 3'],
      ),
      fc
        .tuple(fc.constantFrom('PASSWORD', 'ENCRYPTED PASSWORD', 'password'), literal)
        .map(([k, lit]) => [`${k} ${lit}`, `${k} <REDACTED>`]),
    );
    const role = fc
      .tuple(
        fc.constantFrom('CREATE', 'alter', 'Alter'),
        fc.constantFrom('ROLE', 'user', 'GROUP'),
        fc.constantFrom('alice', '"Pass word"', 'password'),
        fc.array(fc.tuple(space, option), { maxLength: 4 }),
      )
      .map(([v, o, n, opts]) => {
        const head = `${v} ${o} ${n}`;
        return [head + opts.map(([s, [a]]) => s + a).join(''), head + opts.map(([s, [, b]]) => s + b).join('')];
      });
    const noise = fc
      .constantFrom(
        "select password from users where password = 'Zqnot'",
        "SELECT 'ALTER ROLE a PASSWORD ''Zqnot''' AS c",
        'set search_path = public',
        "comment on role alice is 'password Zqnot'",
        "insert into t values ($$ alter role x password 'Zqnot' $$)",
      )
      .map((s) => [s, s]);
    const script = fc.array(fc.tuple(fc.oneof(role, noise), fc.constantFrom(';', '; ', ';\n')), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(script, (parts) => {
        const input = parts.map(([[a], sep]) => a + sep).join('');
        const expected = parts.map(([[, b], sep]) => b + sep).join('');
        expect(redact(input)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('quarantine scrubber', () => {
  it('scrubs literals after PASSWORD inside csv, JSON and plain text, to the end when unterminated', () => {
    expect(scrubText(`2024,"AUDIT: SESSION,1,1,ROLE,ALTER ROLE,,,""alter role a password 'pw1'"",<none>"`)).toBe(
      `2024,"AUDIT: SESSION,1,1,ROLE,ALTER ROLE,,,""alter role a password <REDACTED>"",<none>"`,
    );
    expect(scrubText("Unexpected token in 'create role x password 'abc")).toBe("Unexpected token in 'create role x password <REDACTED>");
    const json = JSON.stringify({ commandText: "ALTER ROLE a PASSWORD E'x\\'y' VALID UNTIL 'infinity'", n: 1 });
    expect(JSON.parse(scrubRaw(json))).toEqual({ commandText: "ALTER ROLE a PASSWORD <REDACTED> VALID UNTIL 'infinity'", n: 1 });
    expect(scrubRaw('no secret')).toBe('no secret');
  });

  it('redactBatch covers events, their parameters, and rejected records', () => {
    const b = newBatch();
    b.rejected.push({ source_ref: 'x:1', reason: "bad record near password 'leak1'", raw: "create role r password 'leak2'" });
    redactBatch(b, builtIn);
    expect(JSON.stringify(b)).not.toMatch(/leak/);
  });
});
