/**
 * Just enough SQL lexing to split a simple-protocol query string into its statements and to read a
 * statement's first keywords. It knows the token kinds that may contain a semicolon: quoted strings
 * ('...', E'...' with backslash escapes), quoted identifiers, dollar quotes, line and nested block
 * comments. https://www.postgresql.org/docs/current/sql-syntax-lexical.html
 *
 * It assumes standard_conforming_strings = on (the default since PostgreSQL 9.1): with it off, a
 * backslash before a quote inside '...' would hide the quote from this lexer.
 */

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

/** End (exclusive) of the quoted token starting at `i` (a quote char), or the text's length when unterminated. */
function skipQuoted(text: string, i: number, quote: string, backslashes: boolean): number {
  let j = i + 1;
  while (j < text.length) {
    const ch = text[j];
    if (backslashes && ch === '\\') {
      j += 2;
      continue;
    }
    if (ch === quote) {
      if (text[j + 1] === quote) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    j++;
  }
  return text.length;
}

function skipBlockComment(text: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < text.length) {
    if (text[j] === '/' && text[j + 1] === '*') {
      depth++;
      j += 2;
    } else if (text[j] === '*' && text[j + 1] === '/') {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else {
      j++;
    }
  }
  return text.length;
}

/** Where the token at `i` ends, when it is one that may hide a semicolon; -1 otherwise. */
function skipOpaque(text: string, i: number): number {
  const ch = text[i];
  if (ch === "'") {
    const prev = text[i - 1];
    const escaped = (prev === 'E' || prev === 'e') && !IDENT_PART.test(text[i - 2] ?? ' ');
    return skipQuoted(text, i, "'", escaped);
  }
  if (ch === '"') return skipQuoted(text, i, '"', false);
  if (ch === '-' && text[i + 1] === '-') {
    const nl = text.indexOf('\n', i);
    return nl < 0 ? text.length : nl + 1;
  }
  if (ch === '/' && text[i + 1] === '*') return skipBlockComment(text, i);
  if (ch === '$' && !IDENT_PART.test(text[i - 1] ?? ' ')) {
    const m = DOLLAR_TAG.exec(text.slice(i, i + 256));
    if (m) {
      const close = text.indexOf(m[0], i + m[0].length);
      return close < 0 ? text.length : close + m[0].length;
    }
  }
  return -1;
}

/**
 * The statements of a query string, trimmed, without empty ones (the server skips those too), or null
 * when the string cannot be split reliably: a `BEGIN ATOMIC` function body holds bare semicolons.
 */
export function splitStatements(text: string): string[] | null {
  const out: string[] = [];
  let start = 0;
  let hasToken = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === ';') {
      if (hasToken) out.push(text.slice(start, i).trim());
      start = i + 1;
      hasToken = false;
      i++;
      continue;
    }
    const end = skipOpaque(text, i);
    if (end >= 0) {
      // A comment alone does not make a statement.
      if (ch !== '-' && ch !== '/') hasToken = true;
      i = end;
      continue;
    }
    if (ch !== ' ' && ch !== '\t' && ch !== '\n' && ch !== '\r' && ch !== '\f') hasToken = true;
    i++;
  }
  if (hasToken) out.push(text.slice(start).trim());
  if (out.some((s) => /\bbegin\s+atomic\b/i.test(s))) return null;
  return out;
}

/** The first `n` keywords of a statement, upper-cased, skipping leading comments and parentheses. */
export function firstKeywords(text: string, n = 2): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length && words.length < n) {
    const ch = text[i];
    if ((ch === '-' && text[i + 1] === '-') || (ch === '/' && text[i + 1] === '*')) {
      i = skipOpaque(text, i);
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || (ch === '(' && words.length === 0)) {
      i++;
      continue;
    }
    if (!IDENT_START.test(ch)) break;
    let j = i + 1;
    while (j < text.length && IDENT_PART.test(text[j])) j++;
    words.push(text.slice(i, j).toUpperCase());
    i = j;
  }
  return words;
}
