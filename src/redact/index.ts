/** Redaction of secrets: the SQL redactor, the text scrubber for quarantine, the batch stage, the config file. */

export { redactBatch, redactEvent, redactParameters } from './redact-batch.js';
export { loadRedactConfig, parseRedactConfig, redactConfigSchema } from './redact-config.js';
export { createSqlRedactor, REDACTED, type RedactedStatement, type RedactPatterns, type SqlRedactor } from './redact-sql.js';
export { scrubRaw, scrubText } from './scrub-text.js';
export { type Token, type TokenKind, tokenize } from './sql-lexer.js';
