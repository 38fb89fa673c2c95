import { parseArgs } from 'node:util';
import { openProxyEventsWriter, teeToJsonl } from '../../collectors/proxy-events/index.js';
import { DEFAULT_LAKE_WRITER, LakeWriter } from '../../lake/lake-writer.js';
import { writeStream } from '../../pipeline/stream.js';
import { startProxy } from '../../proxy/index.js';
import type { Batch } from '../../schema/index.js';
import { type Command, EXIT, positiveOption, UsageError } from '../command.js';
import { openStorage } from '../lake-options.js';
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
  --tls-cert <file>           PEM certificate: accept TLS from clients (SSLRequest answered S)
  --tls-key <file>            its PEM private key
  --upstream-tls <mode>       disable (default), require, or verify-full (with --upstream-ca)
  --upstream-ca <file>        PEM CA to verify the server's certificate
  --on-overflow <policy>      block (default: slow sessions down when recording lags, fail-closed) or drop
                              (keep sessions going, count the events dropped)
  --flush-events <n>          write a lake unit every n events (default 50000)
  --flush-seconds <s>         ... or every s seconds, whichever comes first (default 60)
  --instance-id <name>        this proxy's name in source_ref and event ids (default: random)
${SIGN_HELP}

SIGINT or SIGTERM stops accepting clients, lets sessions finish (up to 10 s), writes what was
recorded and exits 0. Lifecycle and statistics are logged as JSON lines on stdout.
`;

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
      },
    });
    if (!values.upstream) throw new UsageError('--upstream <host:port> is required');
    if (!values.out && !values.events)
      throw new UsageError('give --out <lake>, --events <dir>, or both: recorded events must go somewhere');
    const upstreamTls = values['upstream-tls'] as string;
    if (!['disable', 'require', 'verify-full'].includes(upstreamTls))
      throw new UsageError(`--upstream-tls ${upstreamTls}: expected disable, require or verify-full`);
    const onOverflow = values['on-overflow'] as string;
    if (onOverflow !== 'block' && onOverflow !== 'drop') throw new UsageError(`--on-overflow ${onOverflow}: expected block or drop`);
    const flushEvents = positiveOption(values['flush-events'], 50_000, '--flush-events');
    const flushSeconds = positiveOption(values['flush-seconds'], 60, '--flush-seconds');
    const storage = values.out ? openStorage(values.out, '--out') : null;
    const lake = storage ? await LakeWriter.open(storage, { ...DEFAULT_LAKE_WRITER, signer: await signerFrom(values) }) : null;
    const writer = values.events ? await openProxyEventsWriter({ dir: values.events }) : null;

    let proxy: Awaited<ReturnType<typeof startProxy>>;
    try {
      proxy = await startProxy({
        listen: values.listen,
        upstream: values.upstream,
        tlsCert: values['tls-cert'],
        tlsKey: values['tls-key'],
        upstreamTls: upstreamTls as 'disable' | 'require' | 'verify-full',
        upstreamCa: values['upstream-ca'],
        onOverflow,
        instanceId: values['instance-id'],
      });
    } catch (e) {
      // Wrong options are the caller's to fix (exit 2); a busy port or a bad certificate file is not.
      const message = (e as Error).message;
      throw /^(invalid proxy options|listen:|upstream:)/.test(message) ? new UsageError(message) : e;
    }
    logJson(io.out, 'info', 'listening', {
      address: `${proxy.address.host}:${proxy.address.port}`,
      upstream: values.upstream,
      instance_id: proxy.instanceId,
    });
    const removeSignals = onStopSignal((signal) => {
      logJson(io.out, 'info', 'stopping', { signal });
      proxy.close().catch((e) => logJson(io.out, 'error', 'close failed', { error: (e as Error).message }));
    });

    const batches: AsyncIterable<Batch> = writer ? teeToJsonl(proxy.events, writer) : proxy.events;
    try {
      if (lake) {
        const items = (async function* () {
          for await (const batch of batches) yield { batch };
        })();
        const totals = await writeStream(items, lake, {
          source: 'proxy',
          name: `proxy:${proxy.instanceId}`,
          flushEvents,
          flushMs: flushSeconds * 1000,
          observers: [],
          onUnit: (unit) => logJson(io.out, 'info', 'unit written', unit),
        });
        logJson(io.out, 'info', 'stopped', { ...totals, ...proxy.stats() });
      } else {
        let events = 0;
        for await (const batch of batches) events += batch.events.length;
        logJson(io.out, 'info', 'stopped', { events, ...proxy.stats() });
      }
    } finally {
      removeSignals();
      await writer?.close();
      lake?.connection.closeSync();
    }
    return EXIT.ok;
  },
};
