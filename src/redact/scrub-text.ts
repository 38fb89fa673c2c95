import { REDACTED } from './redact-sql.js';

/**
 * The safety net for text that is not one SQL statement: quarantined raw records (a csvlog line, a
 * JSON document, a decrypted DAS record) and rejection reasons. There the SQL sits inside another
 * format's quoting, so the lexer cannot be used; instead every quoted or dollar-quoted value after the
 * word PASSWORD is replaced, whatever statement it belongs to, and an unterminated one to the end of the
 * text. This over-redacts on purpose: a quarantined record is for a person to read, not for analysis.
 */

const AFTER_PASSWORD = /\b(password\s+)(?:E?'(?:[^'\\]|''|\\[\s\S])*(?:'|$)|\$(\w*)\$[\s\S]*?(?:\$\2\$|$))/gi;

/** `text` with every literal after PASSWORD replaced by `<REDACTED>`. */
export function scrubText(text: string): string {
  if (!/password/i.test(text)) return text;
  return text.replace(AFTER_PASSWORD, (_m, keyword: string) => `${keyword}${REDACTED}`);
}

/**
 * {@link scrubText} for a raw record that may be JSON: each string in the document is scrubbed (JSON
 * escaping would otherwise hide where a literal ends), and the document written back.
 */
export function scrubRaw(raw: string): string {
  if (!/password/i.test(raw)) return raw;
  const first = raw.trimStart()[0];
  if (first === '{' || first === '[') {
    try {
      return JSON.stringify(JSON.parse(raw, (_key, value: unknown) => (typeof value === 'string' ? scrubText(value) : value)));
    } catch {
      // Not JSON after all: scrub it as text.
    }
  }
  return scrubText(raw);
}
