import { parseArgs } from 'node:util';
import { openProxyEventsWriter, type ProxyEventsWriter } from '../../collectors/proxy-events/index.js';
import { FsStorage } from '../../lake/fs-storage.js';
import { DEFAULT_LAKE_WRITER, LakeWriter } from '../../lake/lake-writer.js';
import { type ProxyOptionsInput, type RunningProxy, startProxy } from '../../proxy/index.js';
import { createSqlRedactor, loadRedactConfig, type RedactPatterns } from '../../redact/index.js';
import { type Command, EXIT, fileModeOption, type Io, positiveOption, UsageError } from '../command.js';
import { openStorage } from '../lake-options.js';
import { recordProxyEvents } from '../proxy-recording.js';
import { RULES_HELP, RULES_OPTIONS, rulesStageFrom } from '../rules-options.js';
import { SIGN_HELP, SIGN_OPTIONS, signerFrom } from '../sign-options.js';
import { logJson, onStopSignal } from '../signals.js';

const HELP = `Usage: auditlake proxy --listen <host:port> --upstream <host:port> (--out <lake> | --events <dir>) [options]

Runs the recording proxy for the PostgreSQL wire protocol (3.0). Point clients at --listen instead of
the server: bytes are relayed unchanged both ways, and every connection, authentication result,
statement (with bound parameters), row count, error and disconnect is recorded as an audit event
with source = 'proxy'. Passwords, SASL and GSS messages are never recorded.

Options:
  --listen <host:port>        where clients connect (default 127.0.0.1:6432)
  --upstream <host:port>      the PostgreSQL server
  --out <lake>                write events to this lake (Parquet, as auditlake ingest does)
  --events <dir>              also (or instead) write events as rotated JSONL files (proxy events format)
  --tls-cert <file>           PEM certificate: accept TLS from clients (SSLRequest answered S);
                              default: the PEM text in AUDITLAKE_TLS_CERT (e.g. an ECS secret)
  --tls-key <file>            its PEM private key; default: AUDITLAKE_TLS_KEY
  --upstream-tls <mode>       disable (default), require, or verify-full (with --upstream-ca)
  --upstream-ca <file>        PEM CA to verify the server's certificate
  --client-tls <mode>         allow (default) or require: refuse clients that do not use TLS (needs --tls-cert)
  --on-overflow <policy>      block (default, fail-closed: slow sessions down when recording lags; if
                              writing fails, refuse new clients, end sessions with 57P01 and exit 1) or
                              drop (keep sessions going, count the events dropped or lost)
  --flush-events <n>          write a lake unit every n events (default 50000)
  --flush-seconds <s>         ... or every s seconds, whichever comes first (default 60)
  --instance-id <name>        this proxy's name in source_ref and event ids (default: random)
  --redact <file>             extra redaction patterns (YAML: functions, settings); PASSWORD literals of
                              CREATE/ALTER ROLE/USER/GROUP are always redacted
  --no-parameters             do not record bound parameter values (pgAudit's log_parameter off)
  --file-mode <octal>         mode of the lake and JSONL files written locally (default 0600: they hold
                              statement text)
  --auth-timeout <s>          time a client gets to log in (default 60, as PostgreSQL)
  --max-connections <n>       client connections at once (default 1000); more are refused with 53300
  --max-startup-connections <n>
                              connections not yet logged in, at once (default 200); more are refused
${SIGN_HELP}

${RULES_HELP}
  With --out, each unit's alerts are written to the lake with the unit; alerts still in windows when
  the proxy stops are flushed (and caught up over the lake) before it exits.

SIGINT or SIGTERM stops accepting clients, lets sessions finish (up to 10 s), writes what was
recorded and exits 0. Lifecycle and statistics are logged as JSON lines on stdout.
`;

type ProxyValues = Record<string, string | boolean | undefined>;

/** What a run needs besides the outputs: the proxy's options and the recording's. */
interface ProxySettings {
  input: ProxyOptionsInput;
  onOverflow: 'block' | 'drop';
  redact: RedactPatterns | undefined;
  flushEvents: number;
  flushSeconds: number;
}

/** Checks the options (a mistake is a usage error naming the option) and loads the redaction patterns. */
async function proxySettings(values: ProxyValues): Promise<ProxySettings> {
  const text = (name: string) => values[name] as string | undefined;
  const upstream = text('upstream');
  if (!upstream) throw new UsageError('--upstream <host:port> is required');
  if (!values.out && !values.events) throw new UsageError('give --out <lake>, --events <dir>, or both: recorded events must go somewhere');
  const upstreamTls = text('upstream-tls') as string;
  if (upstreamTls !== 'disable' && upstreamTls !== 'require' && upstreamTls !== 'verify-full')
    throw new UsageError(`--upstream-tls ${upstreamTls}: expected disable, require or verify-full`);
  const onOverflow = text('on-overflow') as string;
  if (onOverflow !== 'block' && onOverflow !== 'drop') throw new UsageError(`--on-overflow ${onOverflow}: expected block or drop`);
  const clientTls = text('client-tls') as string;
  if (clientTls !== 'allow' && clientTls !== 'require') throw new UsageError(`--client-tls ${clientTls}: expected allow or require`);
  let redact: RedactPatterns | undefined;
  const redactFile = text('redact');
  if (redactFile) {
    try {
      redact = await loadRedactConfig(redactFile);
    } catch (e) {
      throw new UsageError(`--redact ${(e as Error).message}`, { cause: e });
    }
  }
  const input: ProxyOptionsInput = {
    listen: text('listen'),
    upstream,
    tlsCert: text('tls-cert') ?? (process.env.AUDITLAKE_TLS_CERT || undefined),
    tlsKey: text('tls-key') ?? (process.env.AUDITLAKE_TLS_KEY || undefined),
    upstreamTls,
    upstreamCa: text('upstream-ca'),
    onOverflow,
    instanceId: text('instance-id'),
    clientTls,
    redact,
    recordParameters: !values['no-parameters'],
    authTimeoutMs: positiveOption(text('auth-timeout'), 60, '--auth-timeout') * 1000,
    maxConnections: Math.floor(positiveOption(text('max-connections'), 1000, '--max-connections')),
    maxStartupConnections: Math.floor(positiveOption(text('max-startup-connections'), 200, '--max-startup-connections')),
  };
  return {
    input,
    onOverflow,
    redact,
    flushEvents: positiveOption(text('flush-events'), 50_000, '--flush-events'),
    flushSeconds: positiveOption(text('flush-seconds'), 60, '--flush-seconds'),
  };
}

/** Where recorded events go: the lake (`--out`), JSON-lines files (`--events`), or both; `close` lets go of them. */
interface ProxyOutputs {
  lake: LakeWriter | null;
  writer: ProxyEventsWriter | null;
  close(): Promise<void>;
}

async function openOutputs(values: ProxyValues, fileMode: number): Promise<ProxyOutputs> {
  const storage = values.out ? openStorage(values.out as string, '--out') : null;
  if (storage instanceof FsStorage) storage.fileMode = fileMode;
  // No lake lock, as the Lambda handlers take none: several proxy tasks behind one load balancer record into
  // one lake, each unit its own (the instance id keys its stream and files), and a proxy runs for days,
  // so holding the lock would keep `compact` and `ingest` out of the lake for as long as it runs.
  const lake = storage ? await LakeWriter.open(storage, { ...DEFAULT_LAKE_WRITER, signer: await signerFrom(values) }) : null;
  const outputs: ProxyOutputs = {
    lake,
    writer: null,
    async close() {
      await outputs.writer?.close();
      await lake?.close();
      await storage?.close();
    },
  };
  try {
    if (values.events) outputs.writer = await openProxyEventsWriter({ dir: values.events as string, fileMode });
  } catch (e) {
    await outputs.close();
    throw e;
  }
  return outputs;
}

/** Starts the proxy; wrong options are the caller's to fix (exit 2), a busy port or a bad certificate file is not. */
async function startOrExplain(input: ProxyOptionsInput, io: Io): Promise<RunningProxy> {
  try {
    return await startProxy(input, { log: (message, fields) => logJson(io.out, 'warn', message, fields) });
  } catch (e) {
    const message = (e as Error).message;
    throw /^(invalid proxy options|listen:|upstream:)/.test(message) ? new UsageError(message, { cause: e }) : e;
  }
}

/** `auditlake proxy`. */
export const proxyCommand: Command = {
  name: 'proxy',
  summary: 'run the recording wire-protocol proxy in front of a PostgreSQL server',
  help: HELP,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        listen: { type: 'string', default: '127.0.0.1:6432' },
        upstream: { type: 'string' },
        out: { type: 'string' },
        events: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'upstream-tls': { type: 'string', default: 'disable' },
        'upstream-ca': { type: 'string' },
        'on-overflow': { type: 'string', default: 'block' },
        'flush-events': { type: 'string' },
        'flush-seconds': { type: 'string' },
        'instance-id': { type: 'string' },
        ...SIGN_OPTIONS,
        'client-tls': { type: 'string', default: 'allow' },
        redact: { type: 'string' },
        'no-parameters': { type: 'boolean', default: false },
        'auth-timeout': { type: 'string' },
        'max-connections': { type: 'string' },
        'max-startup-connections': { type: 'string' },
        'file-mode': { type: 'string' },
        ...RULES_OPTIONS,
      },
    });
    const fileMode = fileModeOption(values['file-mode']);
    const settings = await proxySettings(values);
    // Rules load before the lake opens and the proxy listens, so a bad rule fails without side effects.
    const rules = await rulesStageFrom(values);
    const outputs = await openOutputs(values, fileMode);
    let proxy: RunningProxy;
    try {
      proxy = await startOrExplain(settings.input, io);
    } catch (e) {
      await outputs.close();
      throw e;
    }
    logJson(io.out, 'info', 'listening', {
      address: `${proxy.address.host}:${proxy.address.port}`,
      upstream: settings.input.upstream,
      instance_id: proxy.instanceId,
    });
    const removeSignals = onStopSignal((signal) => {
      logJson(io.out, 'info', 'stopping', { signal });
      proxy.close().catch((e) => logJson(io.out, 'error', 'close failed', { error: (e as Error).message }));
    });
    let result: Awaited<ReturnType<typeof recordProxyEvents>>;
    try {
      result = await recordProxyEvents(proxy, outputs.lake, outputs.writer, {
        onOverflow: settings.onOverflow,
        flushEvents: settings.flushEvents,
        flushMs: settings.flushSeconds * 1000,
        redactor: createSqlRedactor(settings.redact),
        rules,
        onUnit: (unit) => logJson(io.out, 'info', 'unit written', unit),
        onFailure: (e) =>
          logJson(io.out, 'error', 'recording failed', {
            error: e.message,
            action:
              settings.onOverflow === 'block' ? 'refusing clients and ending sessions (fail-closed)' : 'relaying on, counting lost events',
          }),
      });
    } finally {
      removeSignals();
      await outputs.close();
    }
    logJson(io.out, result.error ? 'error' : 'info', 'stopped', {
      ...(result.totals ?? {}),
      events: result.events,
      lost_events: result.lost,
      ...(rules ? { alerts: result.alerts, rules: rules.report() } : {}),
      ...proxy.stats(),
    });
    return result.error ? EXIT.failed : EXIT.ok;
  },
};
