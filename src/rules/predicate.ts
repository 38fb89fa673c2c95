import type { AuditEvent } from '../schema/index.js';
import type { Condition, Leaf, Scalar } from './condition.js';
import { EVENT_HOUR, EVENT_WEEKDAY, hourOf, weekdayOf } from './rule-fields.js';

/** A compiled condition: a plain function of an event. */
export type Predicate = (event: AuditEvent) => boolean;

type Getter = (event: AuditEvent) => unknown;

function getter(name: string): Getter {
  if (name === EVENT_HOUR) return (e) => hourOf(e.event_time);
  if (name === EVENT_WEEKDAY) return (e) => weekdayOf(e.event_time);
  return (e) => (e as unknown as Record<string, unknown>)[name];
}

/**
 * Compiles a condition once into nested closures, so evaluating an event costs a few calls and no
 * interpretation of the tree; regexes are compiled here, once.
 */
export function compilePredicate(condition: Condition): Predicate {
  switch (condition.kind) {
    case 'all': {
      const items = condition.items.map(compilePredicate);
      if (items.length === 2) {
        const [a, b] = items;
        return (e) => a(e) && b(e);
      }
      return (e) => items.every((p) => p(e));
    }
    case 'any': {
      const items = condition.items.map(compilePredicate);
      return (e) => items.some((p) => p(e));
    }
    case 'not': {
      const item = compilePredicate(condition.item);
      return (e) => !item(e);
    }
    case 'leaf':
      return compileLeaf(condition);
  }
}

function compileLeaf(leaf: Leaf): Predicate {
  const get = getter(leaf.field.name);
  if (leaf.op === 'is_null') {
    const wanted = leaf.value as boolean;
    return (e) => (get(e) === null || get(e) === undefined) === wanted;
  }
  const test = valueTest(leaf);
  return (e) => {
    const v = get(e);
    return v !== null && v !== undefined && test(v);
  };
}

/** The test of a present (non-null) value. */
function valueTest(leaf: Leaf): (value: unknown) => boolean {
  const fold = leaf.ignoreCase ? (s: Scalar) => (typeof s === 'string' ? s.toLowerCase() : s) : (s: Scalar) => s;
  const text = leaf.ignoreCase ? (v: unknown) => (v as string).toLowerCase() : (v: unknown) => v;
  switch (leaf.op) {
    case 'equals': {
      const want = fold(leaf.value as Scalar);
      return (v) => text(v) === want;
    }
    case 'in': {
      const set = new Set((leaf.value as Scalar[]).map(fold));
      return (v) => set.has(text(v) as Scalar);
    }
    case 'prefix': {
      const want = fold(leaf.value as Scalar) as string;
      return (v) => (text(v) as string).startsWith(want);
    }
    case 'regex': {
      const re = new RegExp(leaf.value as string, leaf.ignoreCase ? 'i' : '');
      return (v) => re.test(v as string);
    }
    case 'gt':
      return (v) => (v as number) > (leaf.value as number);
    case 'gte':
      return (v) => (v as number) >= (leaf.value as number);
    case 'lt':
      return (v) => (v as number) < (leaf.value as number);
    case 'lte':
      return (v) => (v as number) <= (leaf.value as number);
    default:
      throw new Error(`unreachable operator ${leaf.op}`);
  }
}
