// Types only: the SNS SDK is loaded by the first publish, so runs without an SNS output never load it.
import type { PublishBatchRequestEntry, SNSClient } from '@aws-sdk/client-sns';
import type { Alert } from '../alert-schema.js';
import { PermanentError, type RetryPolicy, withRetry } from './retry.js';
import { type AlertSink, alertToJson } from './sink.js';

/** Options of {@link createSnsSink}. */
export interface SnsSinkOptions {
  topicArn: string;
  /** A client to use; by default one built from the environment (AWS_REGION, AWS_ENDPOINT_URL_SNS, ...). */
  client?: SNSClient;
  retry?: RetryPolicy;
}

/** PublishBatch takes at most 10 entries (SNS API reference, PublishBatch). */
export const SNS_BATCH_LIMIT = 10;

/**
 * Publishes each alert as one SNS message (the alert's JSON; subject = title, attributes severity and
 * rule_id for subscription filter policies), 10 per PublishBatch. Entries SNS reports as failed are
 * retried with jittered backoff, alone; a request error is retried only by the SDK client; an error
 * that persists rejects `write`.
 */
export function createSnsSink(options: SnsSinkOptions): AlertSink {
  let sns: Promise<{ client: SNSClient; PublishBatchCommand: typeof import('@aws-sdk/client-sns').PublishBatchCommand }> | null = null;
  const loadSns = () =>
    (sns ??= import('@aws-sdk/client-sns').then(({ PublishBatchCommand, SNSClient }) => ({
      client: options.client ?? new SNSClient({}),
      PublishBatchCommand,
    })));
  const entry = (alert: Alert, id: number): PublishBatchRequestEntry => ({
    Id: String(id),
    Message: JSON.stringify(alertToJson(alert)),
    Subject: alert.title.replace(/[^\x20-\x7e]/g, ' ').slice(0, 100),
    MessageAttributes: {
      severity: { DataType: 'String', StringValue: alert.severity },
      rule_id: { DataType: 'String', StringValue: alert.rule_id },
    },
  });
  const publish = async (entries: PublishBatchRequestEntry[]) => {
    const { client, PublishBatchCommand } = await loadSns();
    let pending = entries;
    await withRetry(async () => {
      // The client's standard retry strategy already retried throttling, 5xx and network errors
      // (AWS_MAX_ATTEMPTS, AWS_RETRY_MODE): what survives it is final here. Only entries SNS reports
      // as failed in a successful response, which the SDK cannot retry, are retried below.
      const result = await client
        .send(new PublishBatchCommand({ TopicArn: options.topicArn, PublishBatchRequestEntries: pending }))
        .catch((e: Error) => {
          throw new PermanentError(e.message, { cause: e });
        });
      const failed = new Set((result.Failed ?? []).map((f) => f.Id));
      if (failed.size === 0) return;
      const reasons = (result.Failed ?? []).map((f) => `${f.Id}: ${f.Code} ${f.Message ?? ''}`.trim()).join('; ');
      pending = pending.filter((e) => failed.has(e.Id));
      throw new Error(`SNS PublishBatch failed for ${failed.size} of the entries: ${reasons}`);
    }, options.retry);
  };
  return {
    async write(alerts) {
      for (let i = 0; i < alerts.length; i += SNS_BATCH_LIMIT) {
        await publish(alerts.slice(i, i + SNS_BATCH_LIMIT).map((a, k) => entry(a, i + k)));
      }
    },
    async close() {
      if (!options.client && sns) (await sns).client.destroy();
    },
  };
}
