import { type Token, tokenize } from './sql-lexer.js';

/**
 * Redaction of secrets in SQL text, on tokens (see `sql-lexer.ts`), never by a regular expression over
 * the whole text: a comment or a string that mentions PASSWORD stays as it is.
 *
 * Built in, as pgAudit does for the statements it logs: the literal after `PASSWORD` (also `ENCRYPTED
 * PASSWORD`) in CREATE/ALTER ROLE, USER and GROUP, and the `password` option of CREATE/ALTER USER
 * MAPPING, becomes `<REDACTED>`; `VALID UNTIL` and everything else stay. When the secret is a parameter
 * (`PASSWORD $1`), its position is reported so the caller blanks that bound value. Every statement of a
 * multi-statement string is looked at. Configured extra patterns add function arguments (e.g. the key of
 * `pgp_sym_encrypt`) and run-time settings (`SET my.secret = ...`, `set_config('my.secret', ...)`).
 */

/** What replaces a secret. pgAudit writes the same. */
export const REDACTED = '<REDACTED>';

/** Extra patterns, as the redaction config file declares them. */
export interface RedactPatterns {
  /** Function arguments to redact: name (unqualified, any case) and 1-based argument positions. */
  functions: { name: string; arguments: number[] }[];
  /** Run-time settings whose values are secrets, e.g. `my.secret`. */
  settings: string[];
}

/** The redacted text and the 1-based positions of bound parameters that hold secrets. */
export interface RedactedStatement {
  text: string;
  parameters: number[];
}

/** Redacts statements; built once from the patterns, used for every event. */
export interface SqlRedactor {
  /** The configured patterns it was built from, so another thread (a parse worker) can build the same redactor. */
  readonly patterns: RedactPatterns;
  /** Redacts one SQL text (one or several statements). Returns the same string when nothing is secret. */
  statement(text: string): RedactedStatement;
}

/** A span of the text to replace by {@link REDACTED}. */
interface Span {
  start: number;
  end: number;
}

/** Builds a redactor for the built-in rules plus `patterns`. */
export function createSqlRedactor(patterns: RedactPatterns = { functions: [], settings: [] }): SqlRedactor {
  const functions = new Map<string, Set<number>>();
  for (const f of patterns.functions) {
    const set = functions.get(f.name.toLowerCase()) ?? new Set<number>();
    for (const a of f.arguments) set.add(a);
    functions.set(f.name.toLowerCase(), set);
  }
  const settings = new Set(patterns.settings.map((s) => s.toLowerCase()));
  // Cheap test first: most statements mention none of the words a rule starts from, and are not lexed.
  const words = ['password', ...functions.keys(), ...(settings.size > 0 ? ['set'] : [])];
  const trigger = new RegExp(words.map(escapeRegExp).join('|'), 'i');
  return {
    patterns: {
      functions: patterns.functions.map((f) => ({ name: f.name, arguments: [...f.arguments] })),
      settings: [...patterns.settings],
    },
    statement(text) {
      if (!trigger.test(text)) return { text, parameters: [] };
      const tokens = tokenize(text);
      const spans: Span[] = [];
      const parameters: number[] = [];
      for (const stmt of statements(tokens)) {
        if (isRoleStatement(stmt)) passwordLiterals(stmt, spans, parameters);
        if (functions.size > 0 || settings.size > 0) functionArguments(text, stmt, functions, settings, spans, parameters);
        if (settings.size > 0) settingValues(stmt, settings, spans, parameters);
      }
      return { text: spans.length === 0 ? text : replaceSpans(text, spans), parameters };
    },
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Tokens per statement, split at top-level semicolons. */
function statements(tokens: Token[]): Token[][] {
  const out: Token[][] = [];
  let current: Token[] = [];
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === 'punct') {
      if (t.value === '(') depth++;
      else if (t.value === ')') depth = Math.max(0, depth - 1);
      else if (t.value === ';' && depth === 0) {
        if (current.length > 0) out.push(current);
        current = [];
        continue;
      }
    }
    current.push(t);
  }
  if (current.length > 0) out.push(current);
  return out;
}

const ROLE_OBJECTS = new Set(['role', 'user', 'group']);

/** CREATE or ALTER ROLE, USER (also USER MAPPING) or GROUP. */
function isRoleStatement(stmt: Token[]): boolean {
  const [verb, object] = stmt;
  return (
    verb?.kind === 'word' &&
    (verb.value === 'create' || verb.value === 'alter') &&
    object?.kind === 'word' &&
    ROLE_OBJECTS.has(object.value)
  );
}

/** The literal (or parameter) right after each PASSWORD word. */
function passwordLiterals(stmt: Token[], spans: Span[], parameters: number[]): void {
  for (let i = 2; i < stmt.length - 1; i++) {
    if (stmt[i].kind === 'word' && stmt[i].value === 'password') i = secretAt(stmt, i + 1, spans, parameters);
  }
}

/**
 * Marks the value at `i` if it is a literal (adjacent string constants included: the server joins
 * `'a'` newline `'b'`) or a parameter. Returns the index of the last token looked at.
 */
function secretAt(stmt: Token[], i: number, spans: Span[], parameters: number[]): number {
  const t = stmt[i];
  if (t?.kind === 'param') {
    parameters.push(Number(t.value));
    return i;
  }
  if (t?.kind !== 'string') return i - 1;
  let last = i;
  while (stmt[last + 1]?.kind === 'string') last++;
  spans.push({ start: t.start, end: stmt[last].end });
  return last;
}

/** Configured function arguments, and the value of `set_config('<secret setting>', value, ...)`. */
function functionArguments(
  text: string,
  stmt: Token[],
  functions: Map<string, Set<number>>,
  settings: Set<string>,
  spans: Span[],
  parameters: number[],
): void {
  for (let i = 0; i < stmt.length - 1; i++) {
    const t = stmt[i];
    if (t.kind !== 'word' || stmt[i + 1].kind !== 'punct' || stmt[i + 1].value !== '(') continue;
    const args = callArguments(stmt, i + 1);
    let positions = functions.get(t.value);
    if (t.value === 'set_config' && args.length >= 2 && settings.has(literalText(text, args[0]) ?? '')) {
      positions = new Set([...(positions ?? []), 2]);
    }
    if (!positions) continue;
    for (const p of positions) {
      const arg = args[p - 1];
      if (!arg) continue;
      for (const a of arg) {
        if (a.kind === 'string') spans.push({ start: a.start, end: a.end });
        else if (a.kind === 'param') parameters.push(Number(a.value));
      }
    }
  }
}

/** The tokens of each argument of the call whose `(` is at `open`. */
function callArguments(stmt: Token[], open: number): Token[][] {
  const args: Token[][] = [[]];
  let depth = 0;
  for (let j = open; j < stmt.length; j++) {
    const t = stmt[j];
    if (t.kind === 'punct' && (t.value === '(' || t.value === '[')) {
      depth++;
      if (depth === 1) continue;
    } else if (t.kind === 'punct' && (t.value === ')' || t.value === ']')) {
      depth--;
      if (depth === 0) break;
    } else if (t.kind === 'punct' && t.value === ',' && depth === 1) {
      args.push([]);
      continue;
    }
    args[args.length - 1].push(t);
  }
  return args;
}

/** The text of a one-token plain string constant, lower-cased, or null. */
function literalText(text: string, arg: Token[]): string | null {
  if (arg.length !== 1 || arg[0].kind !== 'string' || text[arg[0].start] !== "'") return null;
  return text
    .slice(arg[0].start + 1, arg[0].end - 1)
    .replaceAll("''", "'")
    .toLowerCase();
}

/** `SET [SESSION|LOCAL] <secret setting> {=|TO} value`, also inside ALTER ROLE/DATABASE ... SET. */
function settingValues(stmt: Token[], settings: Set<string>, spans: Span[], parameters: number[]): void {
  for (let i = 0; i < stmt.length; i++) {
    if (stmt[i].kind !== 'word' || stmt[i].value !== 'set') continue;
    let j = i + 1;
    if (stmt[j]?.kind === 'word' && (stmt[j].value === 'session' || stmt[j].value === 'local')) j++;
    const name: string[] = [];
    while (stmt[j]?.kind === 'word') {
      name.push(stmt[j].value);
      if (stmt[j + 1]?.kind === 'punct' && stmt[j + 1].value === '.') j += 2;
      else {
        j++;
        break;
      }
    }
    if (!settings.has(name.join('.'))) continue;
    const op = stmt[j];
    if (!op || !((op.kind === 'punct' && op.value === '=') || (op.kind === 'word' && op.value === 'to'))) continue;
    const value = stmt.slice(j + 1);
    if (value.length === 0) continue;
    for (const v of value) if (v.kind === 'param') parameters.push(Number(v.value));
    spans.push({ start: value[0].start, end: value[value.length - 1].end });
    i = stmt.length;
  }
}

/** Replaces each span (sorted, overlaps merged) by {@link REDACTED}. */
function replaceSpans(text: string, spans: Span[]): string {
  spans.sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const s of spans) {
    if (s.end <= at) continue;
    out += text.slice(at, Math.max(at, s.start)) + REDACTED;
    at = s.end;
  }
  return out + text.slice(at);
}
