import { formatMicros, utcDate } from '../../schema/index.js';
import type { Alert } from '../alert-schema.js';

/**
 * Where alerts go besides the lake. Every sink has the same two calls; `write` resolves once the
 * alerts are delivered (after its own retries) and rejects when they could not be.
 */
export interface AlertSink {
  write(alerts: Alert[]): Promise<void>;
  close(): Promise<void>;
}

/** The JSON form of an alert: timestamps as ISO-8601 UTC text, plus its `event_date` partition. */
export function alertToJson(alert: Alert): Record<string, unknown> {
  return {
    ...alert,
    alert_time: formatMicros(alert.alert_time),
    window_start: formatMicros(alert.window_start),
    window_end: formatMicros(alert.window_end),
    event_date: utcDate(alert.alert_time),
  };
}
