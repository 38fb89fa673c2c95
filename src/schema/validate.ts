import { z } from 'zod';
import { type AuditEvent, EVENT_FIELDS, type FieldSpec, type FieldType, PARTITION_KEYS } from './fields.js';

/** zod type of each logical type, before nullability. */
function zodOf(type: FieldType): z.ZodType {
  switch (type) {
    case 'string':
      return z.string();
    case 'int':
      return z.number().int().min(-2147483648).max(2147483647);
    case 'bigint':
      return z.number().int();
    case 'double':
      return z.number();
    case 'boolean':
      return z.boolean();
    case 'timestamp':
      // Microseconds since the epoch: an integer, and within years 1970..9999.
      return z.number().int().min(0).max(253_402_300_800_000_000);
    case 'string_list':
      return z.array(z.string());
  }
}

/** The zod type of one declared field, nullability and closed value sets included. */
export function zodField(field: FieldSpec): z.ZodType {
  const base = field.enum ? z.enum(field.enum as [string, ...string[]]) : zodOf(field.type);
  return field.nullable ? base.nullable() : base;
}

/** A strict validator (unknown keys fail) of records with the given declared fields. */
export function strictObjectOf(fields: readonly FieldSpec[]) {
  const shape: Record<string, z.ZodType> = {};
  for (const field of fields) shape[field.name] = zodField(field);
  return z.strictObject(shape);
}

/** Strict validator of an {@link AuditEvent}: unknown keys fail. Derived from `EVENT_FIELDS`. */
export const auditEventSchema = strictObjectOf([...EVENT_FIELDS, PARTITION_KEYS[0]]);

/** Checks an event against schema v1; returns a readable message or null when it is valid. */
export function checkEvent(event: unknown): string | null {
  const result = auditEventSchema.safeParse(event);
  return result.success ? null : z.prettifyError(result.error);
}

/** Throws with a readable message when `event` is not a valid {@link AuditEvent}. */
export function assertEvent(event: unknown): asserts event is AuditEvent {
  const problem = checkEvent(event);
  if (problem) throw new Error(`invalid audit event:\n${problem}`);
}
