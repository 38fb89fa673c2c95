import { formatMicros } from '../../schema/index.js';
import type { Alert } from '../alert-schema.js';
import { PermanentError, type RetryPolicy, withRetry } from './retry.js';
import type { AlertSink } from './sink.js';

/** Options of {@link createWebhookSink}. */
export interface WebhookSinkOptions {
  url: string;
  /** Alerts per message (default 10; Slack allows 50 blocks per message, each alert takes two). */
  perMessage?: number;
  retry?: RetryPolicy;
  /** Per-request timeout in ms (default 10,000). */
  timeoutMs?: number;
}

/** A Slack-compatible message (`{text, blocks}`), which most chat webhooks accept. */
export function slackMessage(alerts: readonly Alert[]): { text: string; blocks: unknown[] } {
  const line = (a: Alert) => `[${a.severity.toUpperCase()}] ${a.title}${a.group_key ? ` (${a.group_key})` : ''}`;
  const text = alerts.length === 1 ? line(alerts[0]) : `${alerts.length} alerts: ${alerts.map(line).join('; ')}`;
  const blocks = alerts.flatMap((a) => [
    { type: 'section', text: { type: 'mrkdwn', text: `*${line(a)}*\n${a.description}` } },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `rule \`${a.rule_id}\` · ${a.event_count} event(s) · ${formatMicros(a.alert_time)} · alert \`${a.alert_id}\``,
        },
      ],
    },
  ]);
  return { text, blocks };
}

/**
 * Posts alerts to a webhook as Slack-compatible JSON. Network errors, timeouts, 429 and 5xx are retried
 * with jittered backoff; other 4xx responses fail at once (the URL or payload is wrong).
 */
export function createWebhookSink(options: WebhookSinkOptions): AlertSink {
  const perMessage = options.perMessage ?? 10;
  const post = async (body: string) => {
    const response = await fetch(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    await response.arrayBuffer();
    if (response.ok) return;
    const message = `webhook answered HTTP ${response.status}`;
    if (response.status === 429 || response.status >= 500) throw new Error(message);
    throw new PermanentError(message);
  };
  return {
    async write(alerts) {
      for (let i = 0; i < alerts.length; i += perMessage) {
        const body = JSON.stringify(slackMessage(alerts.slice(i, i + perMessage)));
        await withRetry(() => post(body), options.retry);
      }
    },
    async close() {},
  };
}
