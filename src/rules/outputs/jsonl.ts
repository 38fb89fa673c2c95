import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Alert } from '../alert-schema.js';
import { type AlertSink, alertToJson } from './sink.js';

/** Options of {@link createJsonlSink}. */
export interface JsonlSinkOptions {
  /** File to append to; `-` or absent means stdout. */
  path?: string;
}

/** Writes one alert per line (JSON, see {@link alertToJson}) to a file (appending) or stdout. */
export function createJsonlSink(options: JsonlSinkOptions = {}): AlertSink {
  const toFile = options.path !== undefined && options.path !== '-';
  const out: Writable = toFile ? createWriteStream(options.path as string, { flags: 'a' }) : process.stdout;
  return {
    async write(alerts) {
      if (alerts.length === 0) return;
      const text = `${alerts.map((a: Alert) => JSON.stringify(alertToJson(a))).join('\n')}\n`;
      // Respect backpressure: wait for drain rather than buffering without bound.
      if (!out.write(text)) await once(out, 'drain');
    },
    async close() {
      if (!toFile) return;
      const file = out as WriteStream;
      await new Promise<void>((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve())));
    },
  };
}
