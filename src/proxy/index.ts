/** The recording proxy for the PostgreSQL wire protocol. */

export { DROPPED_REASON, type OverflowPolicy, type QueueStats } from './event-queue.js';
export { type ProxyOptions, type ProxyOptionsInput, parseProxyOptions, proxyOptionsSchema } from './options.js';
export { type ProxyStats, type RunningProxy, startProxy } from './proxy-server.js';
