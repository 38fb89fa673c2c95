/**
 * A rule's regex runs in three engines: JavaScript (streaming), DuckDB (RE2) and Athena (Trino). Only the
 * common subset means the same everywhere, so constructs that RE2 lacks or that differ are refused up
 * front with a message saying which one and why.
 */

const UNSUPPORTED: readonly { pattern: RegExp; what: string }[] = [
  { pattern: /\(\?<?[=!]/, what: 'lookaround ((?=, (?!, (?<=, (?<!)' },
  { pattern: /\\[1-9]/, what: 'backreference (\\1..\\9)' },
  { pattern: /\\k</, what: 'named backreference (\\k<name>)' },
  { pattern: /\(\?<[A-Za-z_]/, what: 'named group ((?<name>...); use a plain group)' },
  { pattern: /\(\?P/, what: 'named group ((?P<name>...); use a plain group)' },
  { pattern: /\(\?>/, what: 'atomic group ((?>...))' },
  { pattern: /\(\?[a-zA-Z]/, what: 'inline flags ((?i) and friends; use ignore_case: true)' },
  { pattern: /[*+?}]\+/, what: 'possessive quantifier (*+, ++, ?+)' },
  { pattern: /\\[pPuxc]/, what: 'escape that differs between engines (\\p, \\u, \\x, \\c)' },
];

/**
 * Checks that `source` compiles in JavaScript and stays within the subset shared with RE2 and Trino.
 * Returns a readable problem, or null when the regex is portable.
 */
export function regexProblem(source: string): string | null {
  for (const { pattern, what } of UNSUPPORTED) {
    if (pattern.test(stripEscapedBackslashes(source))) return `regex /${source}/ uses a ${what}, which DuckDB/Athena (RE2) do not support`;
  }
  try {
    new RegExp(source);
  } catch (error) {
    return `regex /${source}/ does not compile: ${(error as Error).message}`;
  }
  return null;
}

/** Removes `\\` pairs so that an escaped backslash followed by `1` is not taken for a backreference. */
function stripEscapedBackslashes(source: string): string {
  return source.replaceAll('\\\\', '');
}

/** Escapes a literal for use inside a regex (for list params spliced into a pattern). */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
