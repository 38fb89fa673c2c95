import { ALERTS_TABLE } from '../src/cli/commands/schema.js';
import { proxyEventJsonSchema } from '../src/collectors/proxy-events/json-schema.js';
import { athenaAlertsDdl } from '../src/rules/alert-schema.js';
import { athenaEventsDdl, auditEventJsonSchema, EVENTS_TABLE, glueTableJson } from '../src/schema/index.js';

/**
 * The generated files under `schemas/`, by path, with their derived content. `npm run schemas`
 * writes them; `test/schema/drift.test.ts` fails when the committed files differ.
 */
export function schemaFiles(): Record<string, string> {
  const target = { location: 's3://YOUR-BUCKET/auditlake', database: 'auditlake' };
  return {
    'schemas/audit-event.v1.json': `${JSON.stringify(auditEventJsonSchema(), null, 2)}\n`,
    'schemas/proxy-event.v1.json': `${JSON.stringify(proxyEventJsonSchema(), null, 2)}\n`,
    'schemas/athena/audit_events.sql': athenaEventsDdl(target),
    'schemas/athena/audit_alerts.sql': athenaAlertsDdl(target),
    'schemas/glue/audit_events.json': glueTableJson(EVENTS_TABLE, { location: target.location }),
    'schemas/glue/audit_alerts.json': glueTableJson(ALERTS_TABLE, { location: target.location }),
  };
}
