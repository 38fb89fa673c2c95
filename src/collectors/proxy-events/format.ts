import {
  type AuditEvent,
  checkEvent,
  EVENT_FIELDS,
  eventToJson,
  NO_POLICY_IDS,
  parseTimestampMicros,
  utcDate,
} from '../../schema/index.js';

/**
 * The proxy events format: one audit event per line in its JSON form (`eventToJson`: keys in schema
 * order, timestamps as ISO-8601 UTC text with six fractional digits, plus `source` and `event_date`).
 * Described by `schemas/proxy-event.v1.json`. `policy_ids` may be left out: policies tag events at ingest,
 * and lines written before the column existed read as tagged by none.
 */

/** Fields a line may leave out, with the value they take then. */
const OPTIONAL_FIELDS: Readonly<Record<string, unknown>> = { policy_ids: NO_POLICY_IDS };

const TIMESTAMP_FIELDS = new Set<string>(EVENT_FIELDS.filter((f) => f.type === 'timestamp').map((f) => f.name));

/** One event as a JSONL line, newline included. */
export function eventToJsonLine(event: AuditEvent): string {
  return `${JSON.stringify(eventToJson(event))}\n`;
}

/** The event a parsed line describes, or the reason it is not a valid proxy event. */
export function eventFromJson(value: unknown): AuditEvent | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of EVENT_FIELDS) {
    if (!(field.name in obj) && !(field.name in OPTIONAL_FIELDS)) return `missing field ${field.name}`;
    let v = field.name in obj ? obj[field.name] : OPTIONAL_FIELDS[field.name];
    if (TIMESTAMP_FIELDS.has(field.name)) {
      const micros = typeof v === 'string' ? parseTimestampMicros(v) : null;
      if (micros === null) return `${field.name} is not an ISO-8601 timestamp: ${JSON.stringify(v)}`;
      v = micros;
    }
    out[field.name] = v;
  }
  out.source = obj.source;
  for (const key of Object.keys(obj)) {
    if (key !== 'event_date' && !(key in out)) return `unknown field ${key}`;
  }
  if (out.source !== 'proxy' || out.source_format !== 'proxy')
    return `not a proxy event (source ${JSON.stringify(out.source)}, source_format ${JSON.stringify(out.source_format)})`;
  const problem = checkEvent(out);
  if (problem) return problem.replace(/\s*\n\s*/g, '; ');
  const event = out as AuditEvent;
  if (obj.event_date !== undefined && obj.event_date !== utcDate(event.event_time))
    return `event_date ${JSON.stringify(obj.event_date)} is not the UTC date of event_time`;
  return event;
}
