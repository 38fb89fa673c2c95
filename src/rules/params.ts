import { escapeRegex } from './regex-check.js';

/**
 * Rule params: named values declared with defaults in a rule (`params: {min_failures: 5}`), referenced
 * from the rule as `{param: min_failures}` wherever a value goes, or as `${name}` inside a `regex`
 * (a list param becomes an alternation of its escaped items). A config file overrides them per rule.
 * Substitution happens before validation, so a bad override is reported like a bad rule.
 */

/** A param value: a scalar or a list of scalars. */
export type ParamValue = string | number | boolean | (string | number | boolean)[];

/** Overrides from a config file: rule id -> param name -> value. */
export type ParamOverrides = Record<string, Record<string, ParamValue>>;

/** A problem found while substituting, with the path of the reference. */
export interface ParamProblem {
  path: (string | number)[];
  message: string;
}

const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function isParamRef(value: unknown): value is { param: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'param';
}

/**
 * Returns a copy of `node` with every `{param: name}` replaced by its value and `${name}` spliced into
 * regex texts. Unknown names are reported to `problems` and left in place.
 */
export function substituteParams(
  node: unknown,
  params: Record<string, ParamValue>,
  problems: ParamProblem[],
  path: (string | number)[] = [],
): unknown {
  if (isParamRef(node)) {
    const name = node.param;
    if (typeof name === 'string' && Object.hasOwn(params, name)) return params[name];
    problems.push({ path, message: `unknown param ${JSON.stringify(name)}; declared: ${Object.keys(params).join(', ') || '(none)'}` });
    return node;
  }
  if (Array.isArray(node)) return node.map((item, i) => substituteParams(item, params, problems, [...path, i]));
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    const at = [...path, key];
    out[key] =
      key === 'regex' && typeof value === 'string'
        ? interpolate(value, params, problems, at)
        : substituteParams(value, params, problems, at);
  }
  return out;
}

function interpolate(pattern: string, params: Record<string, ParamValue>, problems: ParamProblem[], path: (string | number)[]): string {
  return pattern.replace(INTERPOLATION, (whole, name: string) => {
    if (!Object.hasOwn(params, name)) {
      problems.push({ path, message: `unknown param "${name}" in regex; declared: ${Object.keys(params).join(', ') || '(none)'}` });
      return whole;
    }
    const value = params[name];
    return Array.isArray(value) ? value.map((v) => escapeRegex(String(v))).join('|') : escapeRegex(String(value));
  });
}

/**
 * Merges overrides into a rule's declared params. An override must name a declared param and keep its
 * shape (list for list, same scalar type), so a typo in a config file fails loudly.
 */
export function mergeParams(
  declared: Record<string, ParamValue>,
  overrides: Record<string, ParamValue> | undefined,
  problems: ParamProblem[],
): Record<string, ParamValue> {
  const merged = { ...declared };
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (!Object.hasOwn(declared, name)) {
      problems.push({
        path: ['params', name],
        message: `override of undeclared param "${name}"; declared: ${Object.keys(declared).join(', ') || '(none)'}`,
      });
      continue;
    }
    if (shapeOf(value) !== shapeOf(declared[name])) {
      problems.push({ path: ['params', name], message: `override of "${name}" must be ${shapeOf(declared[name])}, got ${shapeOf(value)}` });
      continue;
    }
    merged[name] = value;
  }
  return merged;
}

function shapeOf(value: unknown): string {
  return Array.isArray(value) ? 'a list' : `a ${typeof value}`;
}
