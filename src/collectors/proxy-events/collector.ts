import { type Batch, newBatch, rejected, skip } from '../../schema/index.js';
import type { Collector, CollectorContext, CollectorInput } from '../contract.js';
import { eventFromJson } from './format.js';
import { readLines } from './lines.js';

/**
 * Reads proxy event files (JSONL, one event per line, see `format.ts`), written by this proxy or by
 * another instance. Events keep the ids they were recorded with, so re-ingesting a file is idempotent;
 * `ingest_time` becomes this run's. Blank lines are skipped and counted; any other line that is not a
 * valid proxy event is quarantined with its line number and the reason.
 */

/** Longest line accepted; longer ones are quarantined rather than buffered. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** The `proxy` collector. */
export const proxyEventsCollector: Collector = {
  kind: 'proxy',
  formats: ['proxy'],
  description: 'JSONL events recorded by the auditlake wire-protocol proxy (one audit event per line)',
  detect(head) {
    const first = head.split('\n').find((line) => line.trim() !== '');
    if (!first) return null;
    try {
      const value = JSON.parse(first) as Record<string, unknown>;
      return value && value.source === 'proxy' && value.source_format === 'proxy' && typeof value.event_id === 'string' ? 'proxy' : null;
    } catch {
      return null;
    }
  },
  collect: collectProxyEvents,
};

async function* collectProxyEvents(input: CollectorInput, format: string, ctx: CollectorContext): AsyncIterable<Batch> {
  let batch = newBatch();
  if (format !== 'proxy') {
    batch.rejected.push(rejected(input.name, `the proxy collector does not read format ${JSON.stringify(format)}`, ''));
    yield batch;
    return;
  }
  for await (const line of readLines(input.bytes, MAX_LINE_BYTES)) {
    batch.records++;
    const ref = `${input.name}:${line.number}`;
    if (line.tooLong) {
      batch.rejected.push(rejected(ref, `line of ${line.bytes} bytes is longer than ${MAX_LINE_BYTES}`, line.text));
    } else if (line.text.trim() === '') {
      skip(batch, 'blank line');
    } else {
      let value: unknown;
      try {
        value = JSON.parse(line.text);
      } catch (err) {
        batch.rejected.push(rejected(ref, `invalid JSON: ${(err as Error).message}`, line.text));
        value = undefined;
      }
      if (value !== undefined) {
        const event = eventFromJson(value);
        if (typeof event === 'string') batch.rejected.push(rejected(ref, event, line.text));
        else {
          event.ingest_time = ctx.ingestTime;
          batch.events.push(event);
        }
      }
    }
    if (batch.events.length >= ctx.batchSize) {
      yield batch;
      batch = newBatch();
    }
  }
  if (batch.records > 0 || batch.rejected.length > 0) yield batch;
}
