/** Audit policies as code: the format, pgAudit configuration, event matching and coverage. */

export * from './coverage.js';
export * from './load.js';
export * from './match.js';
export * from './members.js';
export * from './policy-schema.js';
export * from './sql.js';
