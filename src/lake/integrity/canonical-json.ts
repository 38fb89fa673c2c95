/**
 * Canonical JSON: the one byte form of a value that is hashed and signed. Object keys are sorted by
 * UTF-16 code units, there is no whitespace, strings are escaped as `JSON.stringify` escapes them, and
 * only safe integers are allowed as numbers (so no float formatting can differ between writers).
 * This is RFC 8785 (JCS) restricted to the values a digest holds. `undefined` members are left out.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isSafeInteger(value)) throw new Error(`canonical JSON holds integers only, not ${value}`);
      return String(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
    }
    default:
      throw new Error(`canonical JSON cannot hold a ${typeof value}`);
  }
}
