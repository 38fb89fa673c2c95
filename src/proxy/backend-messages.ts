import { BodyReader } from './reader.js';

/**
 * Parsers of the server messages the recorder needs, one per message, each taking the body after the
 * length word, and the encoder of the ErrorResponse the proxy itself sends.
 * Layouts: https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

/** CommandComplete ('C'): the command tag, e.g. `INSERT 0 5`, `SELECT 3`, `CREATE TABLE`. */
export interface CommandComplete {
  tag: string;
  /** The tag without its counts: `INSERT`, `SELECT`, `CREATE TABLE`. */
  command: string;
  /** Rows affected or returned, for the tags that carry a count; null otherwise. */
  rows: number | null;
}

/** Tags that end in a row count: https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COMMANDCOMPLETE */
const COUNTED = /^(INSERT \d+|SELECT|UPDATE|DELETE|MERGE|FETCH|MOVE|COPY) (\d+)$/;

export function parseCommandComplete(body: Buffer): CommandComplete {
  return commandFromTag(new BodyReader(body).cstring());
}

/** Splits a command tag into its command and row count. */
export function commandFromTag(tag: string): CommandComplete {
  const m = COUNTED.exec(tag);
  if (!m) return { tag, command: tag, rows: null };
  // INSERT carries `oid rows`; the oid is always 0 since PostgreSQL 12.
  const command = m[1].startsWith('INSERT') ? 'INSERT' : m[1];
  return { tag, command, rows: Number(m[2]) };
}

/** ErrorResponse ('E') and NoticeResponse ('N'): the fields the recorder keeps. */
export interface ErrorFields {
  /** Non-localized severity ('V', PostgreSQL 9.6+) or else the localized one ('S'): ERROR, FATAL, PANIC. */
  severity: string;
  /** SQLSTATE ('C'). */
  code: string;
  /** Primary message ('M'). */
  message: string;
  /** Detail ('D'), when sent. */
  detail?: string;
}

export function parseErrorResponse(body: Buffer): ErrorFields {
  const r = new BodyReader(body);
  let localized = '';
  const out: ErrorFields = { severity: '', code: '', message: '' };
  // https://www.postgresql.org/docs/current/protocol-error-fields.html
  while (r.left > 0) {
    const field = r.byte();
    if (field === 0) break;
    const value = r.cstring();
    switch (field) {
      case 0x53: // 'S'
        localized = value;
        break;
      case 0x56: // 'V'
        out.severity = value;
        break;
      case 0x43: // 'C'
        out.code = value;
        break;
      case 0x4d: // 'M'
        out.message = value;
        break;
      case 0x44: // 'D'
        out.detail = value;
        break;
    }
  }
  if (out.severity === '') out.severity = localized;
  return out;
}

/**
 * Authentication ('R'): only the request type (0 = AuthenticationOk, 10 = SASL, ...). The payload that
 * follows (salts, SASL mechanisms and challenges, GSS data) is never read.
 */
export function parseAuthentication(body: Buffer): number {
  return new BodyReader(body).int32();
}

/** ParameterStatus ('S'): a run-time parameter the server reports (server_version, application_name, ...). */
export function parseParameterStatus(body: Buffer): { name: string; value: string } {
  const r = new BodyReader(body);
  return { name: r.cstring(), value: r.cstring() };
}

/** BackendKeyData ('K'): the backend's process id and the secret key a CancelRequest must present. */
export interface BackendKeyData {
  processId: number;
  secretKey: number;
}

export function parseBackendKeyData(body: Buffer): BackendKeyData {
  const r = new BodyReader(body);
  return { processId: r.int32(), secretKey: r.int32() };
}

/** ParameterDescription ('t'): the type OIDs of a prepared statement's parameters (count read as uint16). */
export function parseParameterDescription(body: Buffer): number[] {
  const r = new BodyReader(body);
  const n = r.count(4);
  const types: number[] = new Array(n);
  for (let i = 0; i < n; i++) types[i] = r.uint32();
  return types;
}

/** The bytes of an ErrorResponse the proxy sends a client itself, e.g. when the upstream is unreachable. */
export function encodeErrorResponse(fields: { severity: string; code: string; message: string }): Buffer {
  const parts = [
    ['S', fields.severity],
    ['V', fields.severity],
    ['C', fields.code],
    ['M', fields.message],
  ];
  const payload = Buffer.concat([...parts.map(([k, v]) => Buffer.from(`${k}${v}\0`, 'utf8')), Buffer.from([0])]);
  const header = Buffer.alloc(5);
  header[0] = 0x45; // 'E'
  header.writeInt32BE(payload.length + 4, 1);
  return Buffer.concat([header, payload]);
}
