/**
 * PostgreSQL wire-protocol message codes (protocol 3.0), as the byte value of their type letter.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

const c = (letter: string): number => letter.charCodeAt(0);

/** Messages a client (frontend) sends, by their type byte. */
export const Frontend = {
  Bind: c('B'),
  Close: c('C'),
  CopyData: c('d'),
  CopyDone: c('c'),
  CopyFail: c('f'),
  Describe: c('D'),
  Execute: c('E'),
  Flush: c('H'),
  FunctionCall: c('F'),
  Parse: c('P'),
  /** PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse all share 'p'. */
  Password: c('p'),
  Query: c('Q'),
  Sync: c('S'),
  Terminate: c('X'),
} as const;

/** Messages the server (backend) sends, by their type byte. */
export const Backend = {
  Authentication: c('R'),
  BackendKeyData: c('K'),
  BindComplete: c('2'),
  CloseComplete: c('3'),
  CommandComplete: c('C'),
  CopyBothResponse: c('W'),
  CopyData: c('d'),
  CopyDone: c('c'),
  CopyInResponse: c('G'),
  CopyOutResponse: c('H'),
  DataRow: c('D'),
  EmptyQueryResponse: c('I'),
  ErrorResponse: c('E'),
  FunctionCallResponse: c('V'),
  NegotiateProtocolVersion: c('v'),
  NoData: c('n'),
  NoticeResponse: c('N'),
  NotificationResponse: c('A'),
  ParameterDescription: c('t'),
  ParameterStatus: c('S'),
  ParseComplete: c('1'),
  PortalSuspended: c('s'),
  ReadyForQuery: c('Z'),
  RowDescription: c('T'),
} as const;

/**
 * Codes of the untyped startup-phase messages, which carry no type byte: the frame parser reports them
 * with these pseudo codes (above 255, so they never collide with a type byte). The request codes are the
 * int32 that follows the length. https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
export const Startup = {
  StartupMessage: 0x100,
  SSLRequest: 0x101,
  GSSENCRequest: 0x102,
  CancelRequest: 0x103,
} as const;

/** The int32 request codes that replace the protocol version in special startup packets. */
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** Authentication request subtypes (the int32 after 'R'). */
export const Auth = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/** Readable name of a type byte, for skip reasons and diagnostics. */
export function frontendName(code: number): string {
  for (const [name, value] of Object.entries(Frontend)) if (value === code) return name;
  return `message '${String.fromCharCode(code)}'`;
}
