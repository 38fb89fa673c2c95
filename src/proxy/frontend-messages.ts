import { BodyReader, MessageFormatError } from './reader.js';

/**
 * Parsers of the client messages the recorder needs, one per message, each taking the body after the
 * length word. Layouts: https://www.postgresql.org/docs/current/protocol-message-formats.html
 * Password, SASL and GSS messages ('p') have no parser on purpose: their payloads are never read.
 */

/** StartupMessage: protocol version and the connection parameters (user, database, application_name, ...). */
export interface StartupMessage {
  protocol: number;
  params: Record<string, string>;
}

export function parseStartupMessage(body: Buffer): StartupMessage {
  const r = new BodyReader(body);
  const protocol = r.int32();
  const params: Record<string, string> = {};
  // Name/value pairs end with an empty name.
  while (r.left > 0) {
    const name = r.cstring();
    if (name === '') break;
    params[name] = r.cstring();
  }
  return { protocol, params };
}

/** CancelRequest: the key of the backend to cancel, as BackendKeyData gave it. */
export interface CancelRequest {
  processId: number;
  secretKey: number;
}

export function parseCancelRequest(body: Buffer): CancelRequest {
  const r = new BodyReader(body);
  r.int32(); // request code 80877102
  return { processId: r.int32(), secretKey: r.int32() };
}

/** Query ('Q'): a simple-protocol query string, possibly several statements. */
export function parseQuery(body: Buffer): string {
  return new BodyReader(body).cstring();
}

/** Parse ('P'): a statement to prepare, with the parameter type OIDs the client specified (0 = unspecified). */
export interface ParseMessage {
  name: string;
  text: string;
  paramTypes: number[];
}

export function parseParse(body: Buffer): ParseMessage {
  const r = new BodyReader(body);
  const name = r.cstring();
  const text = r.cstring();
  const n = r.count(4);
  const paramTypes: number[] = new Array(n);
  for (let i = 0; i < n; i++) paramTypes[i] = r.uint32();
  return { name, text, paramTypes };
}

/** Parameter format code of text; 1 is binary. */
export const TEXT_FORMAT = 0;

/** Bind ('B'): a portal from a prepared statement, with its parameter values (null for SQL NULL). */
export interface BindMessage {
  portal: string;
  statement: string;
  /** Format of each parameter, resolved from the 0, 1 or n format codes the message carries. */
  formats: number[];
  values: (Buffer | null)[];
}

export function parseBind(body: Buffer): BindMessage {
  const r = new BodyReader(body);
  const portal = r.cstring();
  const statement = r.cstring();
  const nFormats = r.count(2);
  const codes: number[] = new Array(nFormats);
  for (let i = 0; i < nFormats; i++) codes[i] = r.int16();
  const n = r.count(4);
  if (nFormats > 1 && nFormats !== n) throw new MessageFormatError(`Bind has ${nFormats} format codes for ${n} parameters`);
  const formats: number[] = new Array(n);
  const values: (Buffer | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    formats[i] = nFormats === 0 ? TEXT_FORMAT : nFormats === 1 ? codes[0] : codes[i];
    const length = r.int32();
    if (length < -1) throw new MessageFormatError(`Bind parameter ${i + 1} has length ${length}`);
    values[i] = length === -1 ? null : r.bytes(length);
  }
  // Result-column format codes follow; the recorder has no use for them.
  return { portal, statement, formats, values };
}

/** Execute ('E'): run a portal, returning at most `maxRows` rows (0 = all). */
export interface ExecuteMessage {
  portal: string;
  maxRows: number;
}

export function parseExecute(body: Buffer): ExecuteMessage {
  const r = new BodyReader(body);
  return { portal: r.cstring(), maxRows: r.int32() };
}

/** Close ('C') and Describe ('D'): a prepared statement ('S') or a portal ('P') by name. */
export interface TargetMessage {
  kind: 'S' | 'P';
  name: string;
}

function parseTarget(body: Buffer, what: string): TargetMessage {
  const r = new BodyReader(body);
  const kind = String.fromCharCode(r.byte());
  if (kind !== 'S' && kind !== 'P') throw new MessageFormatError(`${what} of unknown kind '${kind}'`);
  return { kind, name: r.cstring() };
}

export function parseClose(body: Buffer): TargetMessage {
  return parseTarget(body, 'Close');
}

export function parseDescribe(body: Buffer): TargetMessage {
  return parseTarget(body, 'Describe');
}

/** FunctionCall ('F'): the legacy fast-path call of a function by OID. */
export function parseFunctionCall(body: Buffer): { functionOid: number } {
  return { functionOid: new BodyReader(body).uint32() };
}
