import type { ProxyEventsWriter } from '../collectors/proxy-events/index.js';
import { teeToJsonl } from '../collectors/proxy-events/index.js';
import type { LakeWriter } from '../lake/lake-writer.js';
import type { StreamTotals } from '../pipeline/stream.js';
import { writeStream } from '../pipeline/stream.js';
import type { OverflowPolicy, RunningProxy } from '../proxy/index.js';
import type { SqlRedactor } from '../redact/index.js';
import type { Batch } from '../schema/index.js';

/**
 * Hands what a running proxy records to the lake (and/or JSONL files) until the proxy closes, and
 * decides what a recording failure means:
 * - `block` (fail-closed): the proxy is aborted at once: new clients are refused, open sessions end
 *   with FATAL 57P01, and the run fails. No statement runs unrecorded after the failure.
 * - `drop`: sessions keep going; every event recorded from then on is counted as lost, and the run fails
 *   at its end.
 */

/** Options of {@link recordProxyEvents}. */
export interface ProxyRecordingOptions {
  onOverflow: OverflowPolicy;
  flushEvents: number;
  flushMs: number;
  redactor?: SqlRedactor;
  onUnit?: (unit: { name: string; events: number; quarantined: number; files: number }) => void;
  /** Told once when recording fails, with the error. */
  onFailure?: (error: Error) => void;
}

/** How a recording run ended. */
export interface ProxyRecordingResult {
  /** Units written, events, ...; null without a lake. */
  totals: StreamTotals | null;
  /** Events written durably (in a lake unit, or to JSONL without a lake). */
  events: number;
  /** The recording failure, if any. */
  error: Error | null;
  /** Events recorded after the failure, which nothing could write. */
  lost: number;
}

/** See the module comment. Resolves when the proxy's events end (after close or abort). */
export async function recordProxyEvents(
  proxy: RunningProxy,
  lake: LakeWriter | null,
  writer: ProxyEventsWriter | null,
  options: ProxyRecordingOptions,
): Promise<ProxyRecordingResult> {
  const source = (writer ? teeToJsonl(proxy.events, writer) : proxy.events)[Symbol.asyncIterator]();
  const result: ProxyRecordingResult = { totals: null, events: 0, error: null, lost: 0 };
  let taken = 0;
  // One iterator for the whole run: a batch that arrives after the failure, also one a writer was
  // still waiting for, is counted as lost rather than vanishing with an abandoned promise.
  const take = async (): Promise<IteratorResult<Batch>> => {
    const next = await source.next();
    if (!next.done) {
      if (result.error) result.lost += next.value.events.length;
      else taken += next.value.events.length;
      if (!lake && !result.error) result.events = taken;
    }
    return next;
  };
  try {
    if (lake) {
      const items: AsyncIterable<{ batch: Batch }> = {
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            const n = await take();
            return n.done ? n : { value: { batch: n.value }, done: false };
          },
        }),
      };
      result.totals = await writeStream(items, lake, {
        source: 'proxy',
        name: `proxy:${proxy.instanceId}`,
        flushEvents: options.flushEvents,
        flushMs: options.flushMs,
        observers: [],
        redactor: options.redactor,
        onUnit: (unit) => {
          result.events += unit.events;
          options.onUnit?.(unit);
        },
      });
    } else {
      while (!(await take()).done) {}
    }
    return result;
  } catch (e) {
    result.error = e as Error;
    // The unit being written when it failed is lost with everything after it.
    result.lost += taken - result.events;
    options.onFailure?.(result.error);
  }
  if (options.onOverflow === 'block') void proxy.abort('audit recording failed');
  await drain(take, proxy, result);
  return result;
}

/** Consumes the rest of the events (so sessions are never blocked on a dead consumer) until they end. */
async function drain(take: () => Promise<IteratorResult<Batch>>, proxy: RunningProxy, result: ProxyRecordingResult): Promise<void> {
  try {
    while (!(await take()).done) {}
  } catch {
    // The JSONL tee failed too: read the queue itself.
    for await (const batch of proxy.events) result.lost += batch.events.length;
  }
}
