import { type Batch, rejected, type SourceFormat, skip } from '../../schema/index.js';
import type { Collector, CollectorContext, CollectorInput } from '../contract.js';
import { BatchBuilder } from './batch-builder.js';
import { decodeCloudWatchDocument, rdsIdsFromLogGroup } from './cloudwatch.js';
import { csvlogPieces } from './csvlog-pieces.js';
import { CsvlogReader } from './csvlog-reader.js';
import { jsonLineToRecord } from './jsonlog.js';
import { type MapContext, mapLogRecord } from './map-record.js';
import { SessionKeys } from './session-key.js';
import { parsePrefixedLine, StderrReader } from './stderr.js';
import { textChunks } from './text-chunks.js';

/** The server-log formats this collector reads. */
export const PGAUDIT_FORMATS = ['csvlog', 'jsonlog', 'stderr', 'cloudwatch'] as const;
export type PgauditFormat = (typeof PGAUDIT_FORMATS)[number];

/** Largest CloudWatch input read whole (a subscription payload is at most a few MB). */
const MAX_CLOUDWATCH_BYTES = 256 * 1024 * 1024;

async function* readCsvlog(input: CollectorInput, b: BatchBuilder): AsyncGenerator<Batch> {
  const reader = new CsvlogReader(input.name, b);
  for await (const chunk of textChunks(input.bytes)) yield* reader.read(chunk);
}

/** Calls `onLine` for every line of the input with its 1-based number; reports invalid UTF-8 lines. */
async function* eachLine(
  input: CollectorInput,
  onLine: (line: string, n: number, invalid: boolean) => void,
  b: BatchBuilder,
): AsyncGenerator<Batch> {
  for await (const chunk of textChunks(input.bytes)) {
    const lines = chunk.text.split('\n');
    // The text of a non-final chunk ends with a newline: its last split element is empty.
    const count = chunk.last ? lines.length : lines.length - 1;
    const invalid = new Set(chunk.invalidLines);
    for (let i = 0; i < count; i++) {
      const n = chunk.firstLine + i;
      // A CR before the newline is kept: PostgreSQL writes LF line ends, so a CR is content (a CR LF
      // inside a statement or parameter shows up as `...\r` then a TAB continuation line).
      onLine(lines[i], n, invalid.has(n));
      // As soon as a batch is full, as the csvlog reader does: a chunk's events must not all live at once.
      const full = b.take();
      if (full) yield full;
    }
  }
}

function readJsonlog(input: CollectorInput, b: BatchBuilder): AsyncGenerator<Batch> {
  return eachLine(
    input,
    (line, n, invalid) => {
      if (line === '') return;
      const ref = `${input.name}:${n}`;
      if (invalid) return b.reject(ref, `invalid UTF-8 on line ${n}`, line);
      const record = jsonLineToRecord(line);
      if (typeof record === 'string') b.reject(ref, `malformed jsonlog record: ${record}`, line);
      else b.add(record, n, ref, line);
    },
    b,
  );
}

async function* readStderr(input: CollectorInput, b: BatchBuilder): AsyncGenerator<Batch> {
  const reader = new StderrReader<number>();
  // The stderr prefix has no %c: sessions are keyed by pid and connection start.
  const sessions = new SessionKeys();
  const emit = (item: ReturnType<StderrReader<number>['push']>) => {
    if (!item) return;
    const ref = `${input.name}:${item.ref}`;
    if (!item.ok) return b.reject(ref, item.reason, item.raw);
    if (item.invalidUtf8) return b.reject(ref, 'invalid UTF-8 in this record', item.raw);
    sessions.assign(item.record);
    b.add(item.record, item.ref, ref, item.raw);
  };
  yield* eachLine(
    input,
    (line, n, invalid) => {
      const done = reader.push(line, n);
      // The line just read belongs to the pending record, unless it was rejected on its own.
      if (invalid && !(done && !done.ok && done.ref === n)) reader.markInvalidUtf8();
      emit(done);
    },
    b,
  );
  emit(reader.flush());
}

async function* readCloudWatch(input: CollectorInput, b: BatchBuilder): AsyncGenerator<Batch> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of input.bytes) {
    size += chunk.length;
    if (size > MAX_CLOUDWATCH_BYTES) {
      b.reject(input.name, `CloudWatch input larger than ${MAX_CLOUDWATCH_BYTES} bytes; split it into payload files`, '');
      yield b.take(true) as Batch;
      return;
    }
    parts.push(chunk);
  }
  const text = Buffer.concat(parts).toString('utf8');
  // One JSON document, or one per line (several payloads saved as JSONL).
  let docs: { doc: unknown; ref: string; raw: string; error?: string }[];
  try {
    docs = [{ doc: JSON.parse(text), ref: input.name, raw: text }];
  } catch {
    docs = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      const ref = `${input.name}:${i + 1}`;
      try {
        docs.push({ doc: JSON.parse(line), ref, raw: line });
      } catch (e) {
        docs.push({ doc: undefined, ref, raw: line, error: (e as Error).message });
      }
    });
  }
  let ordinal = 0;
  // Sessions keyed by pid and connection start (no %c in the stderr prefix), per log stream (one instance).
  const sessionsByStream = new Map<string, SessionKeys>();
  for (const { doc, ref, raw, error } of docs) {
    if (error !== undefined) {
      b.reject(ref, `CloudWatch payload is not JSON: ${error}`, raw);
      continue;
    }
    const payload = decodeCloudWatchDocument(doc);
    if (typeof payload === 'string') {
      b.reject(ref, payload, raw);
      continue;
    }
    if (payload.messageType === 'CONTROL_MESSAGE') {
      b.batch.records++;
      skip(b.batch, 'cloudwatch control message');
      continue;
    }
    const ids = rdsIdsFromLogGroup(payload.logGroup, payload.logStream);
    const ctx: MapContext = { ...b.ctx, ...ids };
    const reader = new StderrReader<{ ref: string; ordinal: number }>();
    const stream = `${payload.logGroup}\u0000${payload.logStream}`;
    const sessions = sessionsByStream.get(stream) ?? new SessionKeys();
    sessionsByStream.set(stream, sessions);
    const emit = (item: ReturnType<typeof reader.push>) => {
      if (!item) return;
      if (!item.ok) return b.reject(item.ref.ref, item.reason, item.raw);
      b.batch.records++;
      sessions.assign(item.record);
      const mapped = mapLogRecord(item.record, item.ref.ordinal, item.ref.ref, ctx);
      if ('event' in mapped) b.batch.events.push(mapped.event);
      else if ('skip' in mapped) skip(b.batch, mapped.skip);
      else b.batch.rejected.push(rejected(item.ref.ref, mapped.reject, item.raw));
    };
    for (const event of payload.logEvents) {
      const at = { ref: `${ref}#${payload.logStream}/${event.id}`, ordinal: ordinal++ };
      for (const line of event.message.replace(/\n$/, '').split('\n')) emit(reader.push(line, at));
    }
    emit(reader.flush());
    const full = b.take();
    if (full) yield full;
  }
}

const READERS: Readonly<Record<PgauditFormat, (input: CollectorInput, b: BatchBuilder) => AsyncGenerator<Batch>>> = {
  csvlog: readCsvlog,
  jsonlog: readJsonlog,
  stderr: readStderr,
  cloudwatch: readCloudWatch,
};

const CSVLOG_START = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [A-Za-z0-9+:-]+,/;

/** Recognizes the four formats from the first bytes of an input. */
export function detectPgauditFormat(head: string): PgauditFormat | null {
  const start = head.trimStart();
  if (start.startsWith('{')) {
    if (start.includes('"awslogs"') || (start.includes('"messageType"') && start.includes('"logEvents"'))) return 'cloudwatch';
    if (start.includes('"error_severity"')) return 'jsonlog';
    return null;
  }
  const firstLine = start.slice(0, start.indexOf('\n') === -1 ? undefined : start.indexOf('\n'));
  if (parsePrefixedLine(firstLine)) return 'stderr';
  if (CSVLOG_START.test(firstLine)) return 'csvlog';
  return null;
}

/** pgAudit and server-log lines from csvlog, jsonlog, RDS stderr and CloudWatch Logs payloads. */
export const pgauditCollector: Collector = {
  kind: 'pgaudit',
  formats: PGAUDIT_FORMATS,
  description: 'PostgreSQL server logs with pgAudit lines: csvlog, jsonlog, stderr with the RDS prefix, CloudWatch Logs payloads',
  detect: detectPgauditFormat,
  pieces: { csvlog: csvlogPieces },
  async *collect(input: CollectorInput, format: string, ctx: CollectorContext): AsyncIterable<Batch> {
    const read = READERS[format as PgauditFormat];
    if (!read) throw new Error(`pgaudit collector does not read format ${format}`);
    const mapContext: MapContext = {
      format: format as SourceFormat,
      key: input.key,
      ingestTime: ctx.ingestTime,
      clusterId: null,
      instanceId: null,
    };
    const b = new BatchBuilder(mapContext, ctx.batchSize);
    yield* read(input, b);
    const last = b.take(true);
    if (last && last.records + last.rejected.length > 0) yield last;
  },
};
