import type { z } from 'zod';
import { parseTimestampMicros } from '../schema/index.js';
import { regexProblem } from './regex-check.js';
import { RULE_FIELDS, type RuleField } from './rule-fields.js';

/**
 * The condition tree of a rule, as written in YAML and as parsed:
 *
 * ```yaml
 * match:
 *   all:
 *     - event_class: AUTH_FAILURE            # shorthand for {equals: AUTH_FAILURE}
 *     - db_user: {in: [alice, bob]}          # a list shorthand means {in: [...]}
 *     - not: {statement_text: {regex: '\bwhere\b', ignore_case: true}}
 *     - any: [{row_count: {gt: 1000}}, {command: {prefix: COPY}}]
 * ```
 *
 * An object with several field keys means all of them; an operator object with several operators
 * (e.g. `{gte: 8, lt: 18}`) means all of them too. A missing (null) value never satisfies an operator
 * other than `is_null`, in JS and in SQL alike.
 */

/** Comparison operators of a leaf. */
export const OPERATORS = ['equals', 'in', 'prefix', 'regex', 'gt', 'gte', 'lt', 'lte', 'is_null'] as const;
export type Operator = (typeof OPERATORS)[number];

/** A scalar a leaf compares with (timestamps already converted to microseconds). */
export type Scalar = string | number | boolean;

/** One test of one field. */
export interface Leaf {
  kind: 'leaf';
  field: RuleField;
  op: Operator;
  /** `in`: a list; `is_null`: a boolean; otherwise a scalar. */
  value: Scalar | Scalar[];
  ignoreCase: boolean;
}

/** A parsed condition. */
export type Condition = Leaf | { kind: 'all'; items: Condition[] } | { kind: 'any'; items: Condition[] } | { kind: 'not'; item: Condition };

type Ctx = z.RefinementCtx;
type Path = (string | number)[];

function issue(ctx: Ctx, path: Path, message: string, input: unknown): void {
  ctx.addIssue({ code: 'custom', message, path, input });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses a condition tree, reporting every problem to `ctx` with its path (relative to the field
 * being parsed). Returns null when there was any problem.
 */
export function parseCondition(raw: unknown, ctx: Ctx, path: Path = []): Condition | null {
  if (!isPlainObject(raw)) {
    issue(ctx, path, 'a condition must be a mapping (field: test, all: [...], any: [...] or not: {...})', raw);
    return null;
  }
  const keys = Object.keys(raw);
  if (keys.length === 0) {
    issue(ctx, path, 'empty condition', raw);
    return null;
  }
  const parts: (Condition | null)[] = keys.map((key) => parseKey(key, raw[key], ctx, [...path, key]));
  if (parts.some((p) => p === null)) return null;
  return parts.length === 1 ? (parts[0] as Condition) : { kind: 'all', items: parts as Condition[] };
}

function parseKey(key: string, value: unknown, ctx: Ctx, path: Path): Condition | null {
  if (key === 'all' || key === 'any') {
    if (!Array.isArray(value) || value.length === 0) {
      issue(ctx, path, `${key} takes a non-empty list of conditions`, value);
      return null;
    }
    const items = value.map((item, i) => parseCondition(item, ctx, [...path, i]));
    return items.some((c) => c === null) ? null : { kind: key, items: items as Condition[] };
  }
  if (key === 'not') {
    const item = parseCondition(value, ctx, path);
    return item && { kind: 'not', item };
  }
  const field = RULE_FIELDS.get(key);
  if (!field) {
    issue(ctx, path, `unknown field "${key}"; known fields: ${[...RULE_FIELDS.keys()].join(', ')}`, key);
    return null;
  }
  return parseTests(field, value, ctx, path);
}

function parseTests(field: RuleField, value: unknown, ctx: Ctx, path: Path): Condition | null {
  const ops: Record<string, unknown> = isPlainObject(value) ? value : Array.isArray(value) ? { in: value } : { equals: value };
  const ignoreCase = ops.ignore_case ?? false;
  if (typeof ignoreCase !== 'boolean') {
    issue(ctx, [...path, 'ignore_case'], 'ignore_case must be true or false', ignoreCase);
    return null;
  }
  const names = Object.keys(ops).filter((k) => k !== 'ignore_case');
  if (names.length === 0) {
    issue(ctx, path, `no operator; use one of ${OPERATORS.join(', ')}`, value);
    return null;
  }
  const leaves: (Leaf | null)[] = names.map((name) => parseLeaf(field, name, ops[name], ignoreCase, ctx, [...path, name]));
  if (leaves.some((l) => l === null)) return null;
  return leaves.length === 1 ? (leaves[0] as Leaf) : { kind: 'all', items: leaves as Leaf[] };
}

function parseLeaf(field: RuleField, name: string, raw: unknown, ignoreCase: boolean, ctx: Ctx, path: Path): Leaf | null {
  if (!(OPERATORS as readonly string[]).includes(name)) {
    issue(ctx, path, `unknown operator "${name}"; use one of ${OPERATORS.join(', ')} (and ignore_case)`, name);
    return null;
  }
  const op = name as Operator;
  if (op === 'is_null') {
    if (typeof raw !== 'boolean') {
      issue(ctx, path, 'is_null takes true or false', raw);
      return null;
    }
    return { kind: 'leaf', field, op, value: raw, ignoreCase: false };
  }
  if (field.type === 'string_list') {
    issue(ctx, path, `field "${field.name}" is a list; only is_null applies to it`, raw);
    return null;
  }
  if (ignoreCase && field.type !== 'string') {
    issue(ctx, path, `ignore_case applies to text fields, not "${field.name}" (${field.type})`, raw);
    return null;
  }
  if (op === 'in') {
    if (!Array.isArray(raw) || raw.length === 0) {
      issue(ctx, path, 'in takes a non-empty list', raw);
      return null;
    }
    const values = raw.map((v, i) => scalarFor(field, op, v, ctx, [...path, i]));
    return values.some((v) => v === null) ? null : { kind: 'leaf', field, op, value: values as Scalar[], ignoreCase };
  }
  const value = scalarFor(field, op, raw, ctx, path);
  if (value === null) return null;
  if (op === 'regex') {
    const problem = regexProblem(value as string);
    if (problem) {
      issue(ctx, path, problem, raw);
      return null;
    }
  }
  return { kind: 'leaf', field, op, value, ignoreCase };
}

/** Checks one operand against the field's type; timestamps are given as text and become microseconds. */
function scalarFor(field: RuleField, op: Operator, raw: unknown, ctx: Ctx, path: Path): Scalar | null {
  const fail = (expected: string): null => {
    issue(ctx, path, `${op} on "${field.name}" expects ${expected}, got ${JSON.stringify(raw)}`, raw);
    return null;
  };
  const textOnly = op === 'prefix' || op === 'regex';
  if (textOnly && field.type !== 'string') return fail(`a text field (${op} does not apply to ${field.type})`);
  const ordered = op === 'gt' || op === 'gte' || op === 'lt' || op === 'lte';
  switch (field.type) {
    case 'string':
      if (ordered) return fail('a number field (gt/gte/lt/lte do not apply to text)');
      return typeof raw === 'string' ? raw : fail('text');
    case 'boolean':
      if (ordered) return fail('a number field');
      return typeof raw === 'boolean' ? raw : fail('true or false');
    case 'timestamp': {
      const micros = typeof raw === 'string' ? parseTimestampMicros(raw) : null;
      return micros ?? fail('an ISO-8601 timestamp text');
    }
    case 'int':
    case 'bigint':
      return typeof raw === 'number' && Number.isSafeInteger(raw) ? raw : fail('an integer');
    default:
      return typeof raw === 'number' && Number.isFinite(raw) ? raw : fail('a number');
  }
}

/** Every field a condition names (for checks and for the SQL's column list). */
export function conditionFields(condition: Condition, out: Set<string> = new Set()): Set<string> {
  if (condition.kind === 'leaf') out.add(condition.field.name);
  else if (condition.kind === 'not') conditionFields(condition.item, out);
  else for (const item of condition.items) conditionFields(item, out);
  return out;
}
