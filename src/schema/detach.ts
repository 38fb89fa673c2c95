/**
 * A copy of `text` that shares no memory with the string it was cut from.
 *
 * The collectors read input in chunks of about 2 MB and cut field values out of them; V8 represents a
 * substring of 13 characters or more as a view into its parent (a sliced string), and a concatenation
 * (a group key `db_user=alice,client_addr=…`) as a pair of references. A group key or event id kept in
 * rule state or in an alert would so keep its whole input chunk alive: measured on a 105 MB csvlog,
 * the 5,632 alerts of the built-in pack held 70 MB of input chunks after a full GC, growing with the
 * input. Anything the engine keeps beyond the batch goes through here first.
 *
 * `(' ' + text).slice(1)`: the concatenation is flattened by `slice` into a new sequential string of
 * `text.length + 1` characters, copied from the parts, and the result refers only to that (measured:
 * ~110 ns for a 30-character key, against ~1.6 µs for a round trip through a Buffer). Shorter strings
 * are always copies already.
 */
export function detach(text: string): string;
export function detach(text: string | null): string | null;
export function detach(text: string | null): string | null {
  return text === null || text.length < 13 ? text : ` ${text}`.slice(1);
}
