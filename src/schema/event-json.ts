import { type AuditEvent, EVENT_FIELDS } from './fields.js';
import { formatMicros, utcDate } from './time.js';

/** An event in its JSON form (golden files, JSONL outputs): timestamps as ISO text, plus `event_date`. */
export type AuditEventJson = Record<string, unknown>;

const TIMESTAMP_FIELDS = EVENT_FIELDS.filter((f) => f.type === 'timestamp').map((f) => f.name);

/** The JSON form of an event, keys in schema order, matching `schemas/audit-event.v1.json`. */
export function eventToJson(event: AuditEvent): AuditEventJson {
  const out: AuditEventJson = {};
  for (const field of EVENT_FIELDS) out[field.name] = event[field.name];
  for (const name of TIMESTAMP_FIELDS) out[name] = formatMicros(event[name as 'event_time']);
  out.source = event.source;
  out.event_date = utcDate(event.event_time);
  return out;
}
