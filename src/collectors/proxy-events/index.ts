/** The proxy events format: JSONL of audit events recorded by the wire-protocol proxy. */
export { proxyEventsCollector } from './collector.js';
export { eventFromJson, eventToJsonLine } from './format.js';
export { proxyEventJsonSchema } from './json-schema.js';
export { openProxyEventsWriter, type ProxyEventsWriter, type ProxyEventsWriterOptions, teeToJsonl } from './writer.js';
