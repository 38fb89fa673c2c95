/**
 * A small lexer of PostgreSQL SQL text, enough to tell keywords from string literals, quoted identifiers,
 * comments and parameters, so the redactor acts on the literal after `PASSWORD` and never on a comment or
 * a string that merely mentions it. It follows the server's scanner (src/backend/parser/scan.l):
 * https://www.postgresql.org/docs/current/sql-syntax-lexical.html
 *
 * It never fails: an unterminated literal or comment runs to the end of the text, as the server would
 * reject it, so a secret in it is still inside one token.
 */

/** What a token is. Comments and white space are not tokens. */
export type TokenKind =
  /** A bare word: a keyword or an unquoted identifier; `value` is lower-cased. */
  | 'word'
  /** A double-quoted identifier, `U&"..."` included. */
  | 'ident'
  /** A string constant: `'...'`, `E'...'`, `B'...'`, `X'...'`, `N'...'`, `U&'...'` or `$tag$...$tag$`. */
  | 'string'
  /** A positional parameter `$n`; `value` is n. */
  | 'param'
  /** One punctuation character: `;` `(` `)` `,` `.` `=` `[` `]` `:`. */
  | 'punct'
  /** A number or an operator. */
  | 'other';

/** One token: its kind and where it is in the text. */
export interface Token {
  kind: TokenKind;
  start: number;
  end: number;
  /** Lower-cased word, the punctuation character, or the parameter number as text. */
  value: string;
}

const PUNCT = new Set([';', '(', ')', ',', '.', '=', '[', ']', ':']);
/** Characters that make up operators (scan.l `op_chars`). */
const OP_CHARS = new Set([...'~!@#^&|`?+-*/%<>=']);

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isIdentStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c >= 0x80;
}

function isIdentChar(c: number): boolean {
  return isIdentStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x24;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Splits `text` into tokens. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const n = text.length;
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, value: string) => {
    tokens.push({ kind, start, end, value });
    i = end;
  };
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
    if (c === 0x2d && next === 0x2d) {
      // -- comment to the end of the line
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
      continue;
    }
    if (c === 0x2f && next === 0x2a) {
      i = blockCommentEnd(text, i);
      continue;
    }
    if (c === 0x27) {
      push('string', i, quotedEnd(text, i + 1, false), '');
      continue;
    }
    if (c === 0x22) {
      push('ident', i, identEnd(text, i + 1), '');
      continue;
    }
    if (isIdentStart(c)) {
      const prefixed = prefixedLiteral(text, i);
      if (prefixed !== null) {
        push(prefixed.kind, i, prefixed.end, '');
        continue;
      }
      let end = i + 1;
      while (end < n && isIdentChar(text.charCodeAt(end))) end++;
      push('word', i, end, text.slice(i, end).toLowerCase());
      continue;
    }
    if (c === 0x24) {
      if (isDigit(next)) {
        let end = i + 1;
        while (end < n && isDigit(text.charCodeAt(end))) end++;
        push('param', i, end, text.slice(i + 1, end));
        continue;
      }
      const tagEnd = dollarTagEnd(text, i);
      if (tagEnd > 0) {
        const tag = text.slice(i, tagEnd);
        const close = text.indexOf(tag, tagEnd);
        push('string', i, close < 0 ? n : close + tag.length, '');
        continue;
      }
    }
    const ch = text[i];
    if (PUNCT.has(ch) && !(ch === '=' && OP_CHARS.has(text[i + 1] ?? ''))) {
      push('punct', i, i + 1, ch);
      continue;
    }
    let end = i + 1;
    if (OP_CHARS.has(ch)) {
      while (end < n && OP_CHARS.has(text[end]) && !text.startsWith('--', end) && !text.startsWith('/*', end)) end++;
    } else if (isDigit(c) || ch === '.') {
      while (end < n && (isIdentChar(text.charCodeAt(end)) || text[end] === '.')) end++;
    }
    push('other', i, end, text.slice(i, end));
  }
  return tokens;
}

/** End of a `/* ... *\/` comment starting at `i`; these nest. */
function blockCommentEnd(text: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < text.length) {
    if (text.startsWith('/*', j)) {
      depth++;
      j += 2;
    } else if (text.startsWith('*/', j)) {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else {
      j++;
    }
  }
  return text.length;
}

/** End of a single-quoted body that starts at `j` (after the quote); `escapes` for E'...' strings. */
function quotedEnd(text: string, j: number, escapes: boolean): number {
  const n = text.length;
  while (j < n) {
    const c = text.charCodeAt(j);
    if (escapes && c === 0x5c) {
      j += 2;
    } else if (c === 0x27) {
      if (text.charCodeAt(j + 1) === 0x27) j += 2;
      else return j + 1;
    } else {
      j++;
    }
  }
  return n;
}

/** End of a double-quoted identifier whose body starts at `j`. */
function identEnd(text: string, j: number): number {
  for (;;) {
    const q = text.indexOf('"', j);
    if (q < 0) return text.length;
    if (text[q + 1] !== '"') return q + 1;
    j = q + 2;
  }
}

/** A literal with a prefix letter at `i`: E'..', B'..', X'..', N'..', U&'..', U&"..". */
function prefixedLiteral(text: string, i: number): { kind: TokenKind; end: number } | null {
  const p = text[i].toLowerCase();
  const q = text[i + 1];
  if (q === "'" && (p === 'e' || p === 'b' || p === 'x' || p === 'n')) return { kind: 'string', end: quotedEnd(text, i + 2, p === 'e') };
  if (p === 'u' && q === '&') {
    if (text[i + 2] === "'") return { kind: 'string', end: quotedEnd(text, i + 3, false) };
    if (text[i + 2] === '"') return { kind: 'ident', end: identEnd(text, i + 3) };
  }
  return null;
}

/** End of a dollar-quote tag (`$$` or `$tag$`) starting at `i`, or 0 when there is none. */
function dollarTagEnd(text: string, i: number): number {
  let j = i + 1;
  if (text[j] === '$') return j + 1;
  if (j >= text.length || !isIdentStart(text.charCodeAt(j))) return 0;
  while (j < text.length && isIdentChar(text.charCodeAt(j)) && text[j] !== '$') j++;
  return text[j] === '$' ? j + 1 : 0;
}
