import { z } from 'zod';
import { redactConfigSchema } from '../redact/index.js';

/** Options of the recording proxy, validated strictly: unknown keys fail, defaults live here. */
export const proxyOptionsSchema = z
  .strictObject({
    listen: z.string().default('127.0.0.1:6432').describe('Address clients connect to, host:port (port 0 picks a free one).'),
    upstream: z.string().describe('PostgreSQL server to relay to, host:port.'),
    tlsCert: z
      .string()
      .optional()
      .describe('PEM certificate (file, or the PEM text itself): accept TLS from clients (answer SSLRequest with S).'),
    tlsKey: z.string().optional().describe('PEM private key of tlsCert (file, or the PEM text itself).'),
    upstreamTls: z
      .enum(['disable', 'require', 'verify-full'])
      .default('disable')
      .describe(
        'TLS to the server: disable, require (encrypt; verify the chain only when upstreamCa is given), verify-full (chain and host name).',
      ),
    upstreamCa: z.string().optional().describe('PEM CA file to verify the server certificate with.'),
    onOverflow: z
      .enum(['block', 'drop'])
      .default('block')
      .describe('When the event queue is full: block (stop reading from clients, fail-closed) or drop (count dropped events).'),
    queueCapacity: z.number().int().positive().default(100_000).describe('Events buffered for the consumer before onOverflow applies.'),
    flushSize: z.number().int().positive().default(5_000).describe('Events per batch handed to the consumer.'),
    flushAgeMs: z.number().int().positive().default(1_000).describe('Longest time an event waits in a batch being filled.'),
    connectTimeoutMs: z.number().int().positive().default(10_000).describe('Time allowed to connect (and negotiate TLS) to the server.'),
    shutdownTimeoutMs: z
      .number()
      .int()
      .nonnegative()
      .default(10_000)
      .describe('On close, time sessions get to finish before they are cut.'),
    clientTls: z
      .enum(['allow', 'require'])
      .default('allow')
      .describe('require: refuse a client whose StartupMessage did not come over TLS (needs tlsCert).'),
    authTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(60_000)
      .describe('Time from accept to a completed login (PostgreSQL authentication_timeout); then the connection is closed.'),
    maxConnections: z.number().int().positive().default(1_000).describe('Client connections open at once; more are refused (53300).'),
    maxStartupConnections: z
      .number()
      .int()
      .positive()
      .default(200)
      .describe('Connections not yet logged in, at once; more are refused (53300), so idle sockets cannot crowd out logins.'),
    maxPending: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe("Requests of one session waiting for the server's answer before the proxy stops reading from that client."),
    sessionEventsPerSecond: z
      .number()
      .int()
      .positive()
      .default(20_000)
      .describe('Events one session may record per second (with an equal burst) before its client is read more slowly.'),
    maxRecordedBytes: z
      .number()
      .int()
      .min(4096)
      .default(1024 * 1024)
      .describe('Longest message recorded whole; a longer one is relayed in full and recorded from this prefix (raw_extras says so).'),
    parseBudgetBytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .default(256 * 1024 * 1024)
      .describe(
        'Bytes all sessions together may hold for parsing messages split across reads; beyond it, messages are recorded from shorter prefixes.',
      ),
    lingerMs: z
      .number()
      .int()
      .positive()
      .default(5_000)
      .describe('Time a client gets to close its socket after the proxy ended the session.'),
    recordParameters: z
      .boolean()
      .default(true)
      .describe('Record bound parameter values (pgAudit log_parameter); secret ones are redacted either way.'),
    directWrites: z
      .boolean()
      .default(true)
      .describe('Relay plain TCP writes through the socket handle, below the stream layer (false: through socket.write).'),
    redact: redactConfigSchema.optional().describe('Extra redaction patterns on top of the built-in PASSWORD rule.'),
    instanceId: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/)
      .optional()
      .describe('Name of this proxy instance in source_ref and event ids; random when not given.'),
  })
  .refine((o) => (o.tlsCert === undefined) === (o.tlsKey === undefined), { message: 'tlsCert and tlsKey go together', path: ['tlsKey'] })
  .refine((o) => o.clientTls !== 'require' || o.tlsCert !== undefined, {
    message: 'clientTls require needs tlsCert and tlsKey',
    path: ['clientTls'],
  });

/** Options as given (defaults not applied yet). */
export type ProxyOptionsInput = z.input<typeof proxyOptionsSchema>;
/** Options with defaults applied. */
export type ProxyOptions = z.output<typeof proxyOptionsSchema>;

/** A TCP endpoint. */
export interface HostPort {
  host: string;
  port: number;
}

/** Parses `host:port`, `[v6]:port` or `:port` (loopback). */
export function parseHostPort(text: string, what: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) throw new Error(`${what}: expected host:port, got ${JSON.stringify(text)}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** Validates options; throws one readable message listing every problem. */
export function parseProxyOptions(input: ProxyOptionsInput): ProxyOptions {
  const result = proxyOptionsSchema.safeParse(input);
  if (!result.success) throw new Error(`invalid proxy options:\n${z.prettifyError(result.error)}`);
  parseHostPort(result.data.listen, 'listen');
  parseHostPort(result.data.upstream, 'upstream');
  return result.data;
}
