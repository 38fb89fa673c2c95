import { athenaEventsDdl, auditEventJsonSchema } from '../src/schema/index.js';

/**
 * The generated files under `schemas/`, by path, with their derived content. `npm run schemas`
 * writes them; `test/schema/drift.test.ts` fails when the committed files differ.
 */
export function schemaFiles(): Record<string, string> {
  return {
    'schemas/audit-event.v1.json': `${JSON.stringify(auditEventJsonSchema(), null, 2)}\n`,
    'schemas/athena/audit_events.sql': athenaEventsDdl({ location: 's3://YOUR-BUCKET/auditlake', database: 'auditlake' }),
  };
}
