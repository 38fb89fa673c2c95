import { Readable } from 'node:stream';
import { openStream } from '../pipeline/open-input.js';
import type { CloudWatchLogsEvent } from './events.js';
import { ingestOne } from './ingest-one.js';
import { logJson } from './log.js';
import { sharedRuntime } from './runtime.js';

/**
 * Lambda handler for a CloudWatch Logs subscription on an RDS/Aurora PostgreSQL log group: the
 * delivery (`{"awslogs":{"data":...}}`) is read by the pgAudit collector's `cloudwatch` format into
 * the lake. Event ids derive from the delivery's content, so a retried delivery replaces its files.
 * A failure to write throws, and Lambda retries the (asynchronous) invocation.
 */

const runtime = sharedRuntime();

/** Name of a delivery in `source_ref` (followed by `#<log stream>/<log event id>`). */
export const DELIVERY_NAME = 'awslogs';

export async function handler(event: CloudWatchLogsEvent): Promise<Record<string, unknown>> {
  const started = performance.now();
  const rt = await runtime();
  const bytes = Buffer.from(JSON.stringify(event), 'utf8');
  const input = await openStream(DELIVERY_NAME, Readable.from([bytes]), bytes.length);
  const result = await ingestOne(rt, input, 'cloudwatch');
  const summary = { ...result, duration_ms: Math.round(performance.now() - started) };
  logJson(result.error ? 'warn' : 'info', 'cloudwatch logs delivery', summary);
  return summary;
}
