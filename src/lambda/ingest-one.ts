import { DEFAULT_BATCH_SIZE, ingestInput } from '../pipeline/ingest.js';
import type { OpenedInput } from '../pipeline/open-input.js';
import type { InputStats } from '../pipeline/stats.js';
import type { Runtime } from './runtime.js';

/** What ingesting one input in a Lambda invocation did. */
export interface IngestedInput extends InputStats {
  alerts: number;
  /** Events by source and event class. */
  by_source: Record<string, Record<string, number>>;
}

/**
 * Reads one opened input (a CloudWatch payload, an S3 object) through its collector and a fresh rules
 * stage into the lake, and writes the alerts it raised under the input's key, so a retry replaces them.
 * Throws when the input could not be made durable (the invocation must fail and be retried); an input
 * that is bad as a whole is quarantined and returned with its `error`.
 */
export async function ingestOne(rt: Runtime, input: OpenedInput, format: string): Promise<IngestedInput> {
  const rules = rt.rulesStage();
  const bySource: Record<string, Record<string, number>> = {};
  const { stats, alerts } = await ingestInput(
    input,
    rt.lake,
    {
      format,
      batchSize: DEFAULT_BATCH_SIZE,
      collectorOptions: {},
      observers: [rules.observe],
      transforms: rt.policies ? [rt.policies] : [],
    },
    bySource,
  );
  // ingestInput reports a failed write as an error with nothing quarantined: nothing of the input is in the lake.
  if (stats.error !== null && stats.quarantined === 0) throw new Error(`${input.name}: ${stats.error}`);
  const flushed = await rules.finish(rt.lake, input.key);
  return { ...stats, alerts: alerts + flushed, by_source: bySource };
}
