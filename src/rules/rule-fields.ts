import { EVENT_FIELDS, type FieldType, PARTITION_KEYS } from '../schema/index.js';

/**
 * The fields a rule can test: every stored event column, the `source` partition key, and two values
 * derived from `event_time` so that time-of-day rules mean the same in JS and in SQL (both computed
 * from epoch microseconds in UTC, never from a session time zone).
 */

/** A field a condition can name. */
export interface RuleField {
  readonly name: string;
  readonly type: FieldType;
  /** True for values computed from `event_time` rather than stored. */
  readonly derived: boolean;
}

/** Derived `event_hour`: UTC hour of `event_time`, 0..23. */
export const EVENT_HOUR = 'event_hour';
/** Derived `event_weekday`: ISO weekday of `event_time` in UTC, 1 = Monday .. 7 = Sunday. */
export const EVENT_WEEKDAY = 'event_weekday';

/** Every field a rule may name, by name. */
export const RULE_FIELDS: ReadonlyMap<string, RuleField> = new Map<string, RuleField>([
  ...EVENT_FIELDS.map((f) => [f.name, { name: f.name, type: f.type, derived: false }] as const),
  [PARTITION_KEYS[0].name, { name: PARTITION_KEYS[0].name, type: 'string', derived: false }],
  [EVENT_HOUR, { name: EVENT_HOUR, type: 'int', derived: true }],
  [EVENT_WEEKDAY, { name: EVENT_WEEKDAY, type: 'int', derived: true }],
]);

/** Logical types whose values have one text form in JS and SQL, so they can make up a group key. */
export const GROUPABLE_TYPES: ReadonlySet<FieldType> = new Set<FieldType>(['string', 'int', 'bigint', 'boolean']);

const HOUR_MICROS = 3_600_000_000;
const DAY_MICROS = 86_400_000_000;

/** UTC hour (0..23) of a timestamp in microseconds. */
export function hourOf(micros: number): number {
  return Math.floor(micros / HOUR_MICROS) % 24;
}

/** ISO weekday (1 = Monday .. 7 = Sunday) of a timestamp in microseconds; 1970-01-01 was a Thursday. */
export function weekdayOf(micros: number): number {
  return ((Math.floor(micros / DAY_MICROS) + 3) % 7) + 1;
}
