import { z } from 'zod';
import { EVENT_FIELDS } from '../schema/index.js';
import { type Condition, parseCondition } from './condition.js';
import { parseDurationMicros } from './duration.js';
import { GROUPABLE_TYPES, RULE_FIELDS } from './rule-fields.js';

/**
 * The rule format, validated strictly: unknown keys fail and every error names its path. A rule is
 * one of four kinds, chosen by which block it has:
 *
 * - single (no block): every matching event is an alert; with `suppress`, at most one per group and
 *   suppression bucket.
 * - `threshold`: `count` matching events (or `distinct.count` distinct values of a field) in one
 *   tumbling window of `window`, per group.
 * - `sequence`: a matching event preceded, within `within`, by `count` events matching `after`, per group.
 * - `first_seen`: the first matching event of each group.
 *
 * The exact window semantics, shared with the SQL compiler, are documented in `engine.ts`.
 */

/** Alert severities, lowest first. */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Largest count a rule may ask for: every counted event id is carried in the alert. */
export const MAX_RULE_COUNT = 1000;

const duration = z
  .string()
  .refine((text) => parseDurationMicros(text) !== null, { message: 'expected a duration like 30s, 10m, 1h or 1d' })
  .transform((text) => ({ text, micros: parseDurationMicros(text) as number }));

const count = z.number().int().min(1).max(MAX_RULE_COUNT);

const condition = z.unknown().transform((raw, ctx) => parseCondition(raw, ctx) ?? z.NEVER);

const groupField = z.string().superRefine((name, ctx) => {
  const field = RULE_FIELDS.get(name);
  if (!field) ctx.addIssue({ code: 'custom', message: `unknown field "${name}"`, input: name });
  else if (field.derived || !GROUPABLE_TYPES.has(field.type))
    ctx.addIssue({ code: 'custom', message: `cannot group by "${name}" (${field.type})`, input: name });
});

const paramValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()]))]);

const threshold = z
  .strictObject({
    count: count.optional().describe('Matching events in one window that raise the alert.'),
    distinct: z
      .strictObject({ field: groupField, count: count.describe('Distinct non-null values that raise the alert.') })
      .optional()
      .describe('Count distinct values of a field instead of events.'),
    window: duration.describe('Tumbling window length, aligned to the epoch.'),
  })
  .refine((t) => (t.count === undefined) !== (t.distinct === undefined), { message: 'give exactly one of count or distinct' });

const sequence = z.strictObject({
  after: condition.describe('Condition of the events that must precede the matching event.'),
  count: count.describe('How many such events must precede it.'),
  within: duration.describe('How far back they may be.'),
});

/** Event fields a test event may set: any stored column plus `source`; timestamps as ISO text. */
const testEventShape: Record<string, z.ZodType> = {};
for (const f of EVENT_FIELDS) testEventShape[f.name] = z.unknown().optional();
testEventShape.source = z.unknown().optional();
testEventShape.repeat = z.number().int().min(1).max(10_000).optional().describe('Emit this event n times.');
testEventShape.every = duration.optional().describe('Time step between repeats (default 1s).');

const ruleTest = z.strictObject({
  name: z.string().min(1),
  events: z.array(z.strictObject(testEventShape)).min(1),
  expect: z
    .array(z.strictObject({ group_key: z.string().optional(), event_count: z.number().int().optional() }))
    .describe('The alerts the events must raise, in alert time order; [] for none.'),
});

/** Schema of one rule after param substitution. */
export const ruleSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lowercase letters, digits, ".", "_" and "-" only')
      .describe('Stable id; alert ids derive from it.'),
    title: z.string().min(1),
    severity: z.enum(SEVERITIES),
    description: z.string().default(''),
    tags: z.array(z.string()).default([]),
    enabled: z.boolean().default(true),
    params: z.record(z.string(), paramValue).default({}).describe('Tunable values with their defaults.'),
    match: condition.describe('Which events the rule looks at.'),
    group_by: z.array(groupField).default([]).describe('Fields whose values form the group key.'),
    threshold: threshold.optional(),
    sequence: sequence.optional(),
    first_seen: z.literal(true).optional().describe('Alert on the first matching event of each group.'),
    suppress: duration.optional().describe('At most one alert per group per suppression bucket of this length.'),
    tests: z.array(ruleTest).default([]),
  })
  .superRefine((rule, ctx) => {
    const kinds = (['threshold', 'sequence', 'first_seen'] as const).filter((k) => rule[k] !== undefined);
    if (kinds.length > 1)
      ctx.addIssue({
        code: 'custom',
        message: `a rule has at most one of threshold, sequence, first_seen; got ${kinds.join(', ')}`,
        input: rule,
      });
    if (rule.first_seen && rule.group_by.length === 0)
      ctx.addIssue({ code: 'custom', path: ['group_by'], message: 'first_seen needs group_by', input: rule });
    if (rule.first_seen && rule.suppress)
      ctx.addIssue({ code: 'custom', path: ['suppress'], message: 'first_seen alerts once per group already', input: rule });
  });

/** How a rule turns matching events into alerts. */
export type RuleKind = 'single' | 'threshold' | 'sequence' | 'first_seen';

/** A duration as written and in microseconds. */
export interface Duration {
  text: string;
  micros: number;
}

/** A loaded, validated rule with its params resolved. */
export type Rule = z.output<typeof ruleSchema> & {
  match: Condition;
  /** The file the rule came from (for messages). */
  file: string;
};

/** One embedded test of a rule. */
export type RuleTest = Rule['tests'][number];

/** The kind of a validated rule. */
export function ruleKind(rule: Rule): RuleKind {
  if (rule.threshold) return 'threshold';
  if (rule.sequence) return 'sequence';
  if (rule.first_seen) return 'first_seen';
  return 'single';
}
