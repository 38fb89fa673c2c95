import type { KinesisBatchResponse, KinesisStreamEvent } from './events.js';
import { processKinesisBatch } from './kinesis-batch.js';
import { logJson } from './log.js';
import { sharedRuntime } from './runtime.js';

/**
 * Lambda handler for a Kinesis event source mapping on an Aurora DAS stream (with
 * `ReportBatchItemFailures`): decodes the batch into the lake and returns the records that must be
 * retried (KMS unreachable) as batch item failures. Everything else is durable before it returns.
 */

const runtime = sharedRuntime();

export async function handler(event: KinesisStreamEvent): Promise<KinesisBatchResponse> {
  const started = performance.now();
  const { batchItemFailures, summary } = await processKinesisBatch(event, await runtime());
  const duration_ms = Math.round(performance.now() - started);
  logJson(summary.failed_records > 0 ? 'warn' : 'info', 'kinesis batch', { ...summary, duration_ms });
  return { batchItemFailures };
}
