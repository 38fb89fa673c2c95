import { auditEventJsonSchema, SCHEMA_VERSION } from '../../schema/index.js';

/**
 * JSON Schema of one line of the proxy events format: the audit event's JSON form, with `source` and
 * `source_format` fixed to `proxy`. Checked in as `schemas/proxy-event.v1.json`.
 */
export function proxyEventJsonSchema(): Record<string, unknown> {
  const base = auditEventJsonSchema();
  const properties = { ...(base.properties as Record<string, Record<string, unknown>>) };
  properties.source = { ...properties.source, enum: undefined, const: 'proxy' };
  properties.source_format = { ...properties.source_format, enum: undefined, const: 'proxy' };
  for (const key of ['source', 'source_format']) {
    properties[key] = Object.fromEntries(Object.entries(properties[key]).filter(([, v]) => v !== undefined));
  }
  // Policies tag events at ingest: a proxy line may leave `policy_ids` out.
  const required = (base.required as string[]).filter((name) => name !== 'policy_ids');
  return {
    ...base,
    required,
    $id: `https://auditlake.dev/schemas/proxy-event.v${SCHEMA_VERSION}.json`,
    title: `auditlake proxy event (one JSONL line), schema v${SCHEMA_VERSION}`,
    description:
      'One event recorded by the auditlake wire-protocol proxy, as one line of a JSONL file: the audit event in its JSON form, timestamps as ISO-8601 UTC text with microseconds.',
    properties,
  };
}
