import { EVENT_FIELDS, type FieldSpec, type FieldType, PARTITION_KEYS, SCHEMA_VERSION } from './fields.js';

type JsonSchema = Record<string, unknown>;

/** JSON Schema of each logical type as the event is serialized to JSON (timestamps as ISO-8601 text). */
function jsonTypeOf(type: FieldType): JsonSchema {
  switch (type) {
    case 'string':
      return { type: 'string' };
    case 'int':
      return { type: 'integer', minimum: -2147483648, maximum: 2147483647 };
    case 'bigint':
      return { type: 'integer' };
    case 'double':
      return { type: 'number' };
    case 'boolean':
      return { type: 'boolean' };
    case 'timestamp':
      return { type: 'string', format: 'date-time', pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z$' };
    case 'string_list':
      return { type: 'array', items: { type: 'string' } };
  }
}

function property(field: FieldSpec): JsonSchema {
  const base: JsonSchema = field.enum ? { type: 'string', enum: [...field.enum] } : jsonTypeOf(field.type);
  const typed = field.nullable ? { anyOf: [base, { type: 'null' }] } : base;
  return { description: field.description, ...typed };
}

/**
 * JSON Schema (draft 2020-12) of one audit event in its JSON form: the stored columns plus the
 * `source` and `event_date` partition keys, timestamps as ISO-8601 UTC text with microseconds.
 */
export function auditEventJsonSchema(): JsonSchema {
  const fields = [...EVENT_FIELDS, ...PARTITION_KEYS];
  const properties: Record<string, JsonSchema> = {};
  for (const field of fields) properties[field.name] = property(field);
  (properties.event_date as JsonSchema).pattern = '^\\d{4}-\\d\\d-\\d\\d$';
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://auditlake.dev/schemas/audit-event.v${SCHEMA_VERSION}.json`,
    title: `auditlake audit event, schema v${SCHEMA_VERSION}`,
    type: 'object',
    additionalProperties: false,
    required: fields.map((f) => f.name),
    properties,
  };
}
