import type { BindMessage } from './frontend-messages.js';
import { TEXT_FORMAT } from './frontend-messages.js';
import { BodyReader, MessageFormatError } from './reader.js';

/**
 * Bound parameter values as the event records them: text-format values as their text, binary-format
 * values as base64. What a plain list of strings cannot say (which values were NULL, which were binary
 * and of what type) goes to `raw_extras`.
 */

/** Longest value kept, in bytes; longer ones are cut and marked. */
export const MAX_PARAMETER_BYTES = 64 * 1024;

/** One binary parameter: its 1-based position and type OID (null when the client left it to the server). */
export interface BinaryParameter {
  index: number;
  type_oid: number | null;
}

/** Recorded parameters of one Bind. */
export interface RecordedParameters {
  values: string[];
  /** 1-based positions of NULL values (recorded as empty strings, as pgAudit does). */
  nulls: number[];
  binary: BinaryParameter[];
  /** 1-based positions of values cut to {@link MAX_PARAMETER_BYTES}. */
  truncated: number[];
}

/**
 * Converts a parsed Bind's values, given the parameter type OIDs known for its statement (0 = unspecified).
 * The recorder reads Binds with {@link readBind}, in one pass; this, with `parseBind` and
 * {@link parameterExtras}, is the plain statement of the same mapping it is tested against.
 */
export function recordParameters(bind: BindMessage, types: readonly number[]): RecordedParameters {
  const out: RecordedParameters = { values: new Array(bind.values.length), nulls: [], binary: [], truncated: [] };
  for (let i = 0; i < bind.values.length; i++) {
    let value = bind.values[i];
    if (value === null) {
      out.values[i] = '';
      out.nulls.push(i + 1);
      continue;
    }
    if (value.length > MAX_PARAMETER_BYTES) {
      value = value.subarray(0, MAX_PARAMETER_BYTES);
      out.truncated.push(i + 1);
    }
    if (bind.formats[i] === TEXT_FORMAT) {
      out.values[i] = value.toString('utf8');
    } else {
      out.values[i] = value.toString('base64');
      out.binary.push({ index: i + 1, type_oid: types[i] || null });
    }
  }
  return out;
}

/** The `raw_extras` members describing parameters, or null when the plain list says everything. */
export function parameterExtras(p: RecordedParameters): Record<string, unknown> | null {
  if (p.nulls.length === 0 && p.binary.length === 0 && p.truncated.length === 0) return null;
  const extras: Record<string, unknown> = {};
  if (p.nulls.length > 0) extras.null_parameters = p.nulls;
  if (p.binary.length > 0) extras.binary_parameters = p.binary;
  if (p.truncated.length > 0) extras.truncated_parameters = p.truncated;
  return extras;
}

/** What a Bind records, read straight from its body: values as {@link recordParameters} gives them, and their extras. */
export interface BoundValues {
  portal: string;
  statement: string;
  /** Null when values are not recorded. */
  values: string[] | null;
  /** {@link parameterExtras} of the values. */
  extras: Record<string, unknown> | null;
}

/**
 * Reads a Bind body in one pass, with the checks and errors of `parseBind`, into what
 * `recordParameters` and `parameterExtras` make of it, without the intermediate views, format array and
 * position lists (each list is made only when it has a member). `typesOf` gives the parameter type OIDs of
 * the named statement (read before the values). With `record` false the body is only checked.
 */
export function readBind(body: Buffer, typesOf: (statement: string) => readonly number[], record: boolean): BoundValues {
  const r = new BodyReader(body);
  const portal = r.cstring();
  const statement = r.cstring();
  const nFormats = r.count(2);
  const codesAt = r.offset;
  r.offset += 2 * nFormats; // within the body: count() checked the bytes
  const n = r.count(4);
  if (nFormats > 1 && nFormats !== n) throw new MessageFormatError(`Bind has ${nFormats} format codes for ${n} parameters`);
  const single = nFormats === 1 ? body.readInt16BE(codesAt) : TEXT_FORMAT;
  const types = record ? typesOf(statement) : [];
  const values: string[] | null = record ? new Array(n) : null;
  let nulls: number[] | null = null;
  let binary: BinaryParameter[] | null = null;
  let truncated: number[] | null = null;
  for (let i = 0; i < n; i++) {
    const length = r.int32();
    if (length < -1) throw new MessageFormatError(`Bind parameter ${i + 1} has length ${length}`);
    if (length === -1) {
      if (values !== null) {
        values[i] = '';
        if (nulls === null) nulls = [];
        nulls.push(i + 1);
      }
      continue;
    }
    const start = r.offset;
    r.skip(length);
    if (values === null) continue;
    let end = start + length;
    if (length > MAX_PARAMETER_BYTES) {
      end = start + MAX_PARAMETER_BYTES;
      if (truncated === null) truncated = [];
      truncated.push(i + 1);
    }
    const format = nFormats > 1 ? body.readInt16BE(codesAt + 2 * i) : single;
    if (format === TEXT_FORMAT) {
      values[i] = body.toString('utf8', start, end);
    } else {
      values[i] = body.toString('base64', start, end);
      if (binary === null) binary = [];
      binary.push({ index: i + 1, type_oid: types[i] || null });
    }
  }
  // Result-column format codes follow; the recorder has no use for them.
  let extras: Record<string, unknown> | null = null;
  if (nulls !== null || binary !== null || truncated !== null) {
    extras = {};
    if (nulls !== null) extras.null_parameters = nulls;
    if (binary !== null) extras.binary_parameters = binary;
    if (truncated !== null) extras.truncated_parameters = truncated;
  }
  return { portal, statement, values, extras };
}
