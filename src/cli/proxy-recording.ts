import type { ProxyEventsWriter } from '../collectors/proxy-events/index.js';
import { teeToJsonl } from '../collectors/proxy-events/index.js';
import type { LakeWriter } from '../lake/lake-writer.js';
import type { StreamMark } from '../pipeline/ingest.js';
import type { RulesStage } from '../pipeline/rules-stage.js';
import type { StreamTotals } from '../pipeline/stream.js';
import { writeStream } from '../pipeline/stream.js';
import type { OverflowPolicy, RunningProxy } from '../proxy/index.js';
import type { SqlRedactor } from '../redact/index.js';
import { type Batch, idKey } from '../schema/index.js';

/**
 * Hands what a running proxy records to the lake (and/or JSONL files) until the proxy closes, and
 * decides what a recording failure means:
 * - `block` (fail-closed): the proxy is aborted at once: new clients are refused, open sessions end
 *   with FATAL 57P01, and the run fails. No statement runs unrecorded after the failure.
 * - `drop`: sessions keep going; every event recorded from then on is counted as lost, and the run fails
 *   at its end.
 *
 * With rules, every batch passes the rules stage before it is written (the proxy instance is one
 * event-time stream: its sessions share its clock); the alerts a unit raised are written to the lake's
 * alerts table with the unit, and those still in windows when the proxy stops are flushed, caught up
 * over the lake and written then.
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
  /** The rules stage (`--rules`), finished here when the events end. */
  rules?: RulesStage | null;
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
  /** Alerts raised (0 without rules). */
  alerts: number;
}

/** See the module comment. Resolves when the proxy's events end (after close or abort). */
export async function recordProxyEvents(
  proxy: RunningProxy,
  lake: LakeWriter | null,
  writer: ProxyEventsWriter | null,
  options: ProxyRecordingOptions,
): Promise<ProxyRecordingResult> {
  const source = (writer ? teeToJsonl(proxy.events, writer) : proxy.events)[Symbol.asyncIterator]();
  const result: ProxyRecordingResult = { totals: null, events: 0, error: null, lost: 0, alerts: 0 };
  const rules = options.rules ?? null;
  const stream: StreamMark = { key: `proxy:${proxy.instanceId}` };
  // Alerts still in windows at the end are written under a key of this run (its instance and start).
  const finishKey = idKey('proxy', stream.key, new Date().toISOString());
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
      const items: AsyncIterable<{ batch: Batch; stream: StreamMark }> = {
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            const n = await take();
            return n.done ? n : { value: { batch: n.value, stream }, done: false };
          },
        }),
      };
      result.totals = await writeStream(items, lake, {
        source: 'proxy',
        name: `proxy:${proxy.instanceId}`,
        flushEvents: options.flushEvents,
        flushMs: options.flushMs,
        observers: rules ? [rules.observe] : [],
        redactor: options.redactor,
        afterUnit: async (unitKey) => {
          await rules?.writePending(lake, unitKey);
        },
        onUnit: (unit) => {
          result.events += unit.events;
          options.onUnit?.(unit);
        },
      });
      result.alerts = result.totals.alerts;
    } else {
      // JSONL only: the alerts go to the sinks (the proxy redacted the events before queueing them).
      for (let n = await take(); !n.done; n = await take()) if (rules) result.alerts += await rules.observe(n.value, undefined, stream);
    }
    if (rules) {
      result.alerts += await rules.finish(lake, finishKey);
      if (result.totals) result.totals.alerts = result.alerts;
    }
    return result;
  } catch (e) {
    result.error = e as Error;
    // The unit being written when it failed is lost with everything after it.
    result.lost += taken - result.events;
    options.onFailure?.(result.error);
  }
  if (options.onOverflow === 'block') void proxy.abort('audit recording failed');
  // What the rules raised so far still reaches the sinks; the lake is what failed, so nothing more goes there.
  await rules?.finish(null, finishKey).catch(() => {});
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
