// Preloaded with `node --expose-gc --import` into a child whose live heap a test follows: every 200 ms it
// runs a full collection and prints what is still in use (`live_heap_bytes=<n>`) to stderr. V8's own
// --trace-gc figure after a collection also counts garbage not swept yet, and moves with how often the
// collector runs; a forced full collection leaves only what is alive.
import { writeSync } from 'node:fs';

if (typeof globalThis.gc !== 'function') throw new Error('live-heap.mjs needs node --expose-gc');
setInterval(() => {
  globalThis.gc();
  writeSync(2, `live_heap_bytes=${process.memoryUsage().heapUsed}\n`);
}, 200).unref();
