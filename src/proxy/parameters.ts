import type { BindMessage } from './frontend-messages.js';
import { TEXT_FORMAT } from './frontend-messages.js';

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

/** Converts a Bind's values, given the parameter type OIDs known for its statement (0 = unspecified). */
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
