// Preloaded with `node --import ./bench/lib/memory-sampler.mjs` into an ingest whose memory is being
// accounted for: every MEM_SAMPLE_MS (250) it writes one JSON line to MEM_SAMPLES (a file) with V8's heap
// (used, total), external and array buffers, the process's RSS, high-water RSS and its anonymous and
// file-backed parts (VmRSS, VmHWM, RssAnon, RssFile), and
// what DuckDB says it holds (`duckdb_memory()`, on a connection of its own to every instance the process
// opens). Measurement only: nothing of the ingest changes but the few sampling queries.
import { appendFileSync, readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const out = process.env.MEM_SAMPLES;
const every = Number(process.env.MEM_SAMPLE_MS ?? 250);
const started = performance.now();
const instances = [];

const create = DuckDBInstance.create.bind(DuckDBInstance);
DuckDBInstance.create = async (...args) => {
  const instance = await create(...args);
  instances.push({ connection: await instance.connect(), busy: false, last: null });
  return instance;
};

function procStatus() {
  const text = readFileSync('/proc/self/status', 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024, anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
}

async function duckSample(entry) {
  if (entry.busy) return;
  entry.busy = true;
  try {
    const reader = await entry.connection.runAndReadAll(
      'SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0 OR temporary_storage_bytes > 0',
    );
    const tags = {};
    let total = 0;
    let temp = 0;
    for (const [tag, used, tmp] of reader.getRows()) {
      tags[tag] = Math.round(Number(used) / 1048576);
      total += Number(used);
      temp += Number(tmp);
    }
    entry.last = { mb: Math.round(total / 1048576), temp: Math.round(temp / 1048576), tags };
  } catch {
    // closed while sampling
  } finally {
    entry.busy = false;
  }
}

if (out) {
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    const s = procStatus();
    for (const entry of instances) void duckSample(entry);
    const line = {
      t: Math.round(performance.now() - started) / 1000,
      rss: Math.round(s.rss),
      hwm: Math.round(s.hwm),
      anon: Math.round(s.anon),
      file: Math.round(s.file),
      heapUsed: Math.round(m.heapUsed / 1048576),
      heapTotal: Math.round(m.heapTotal / 1048576),
      external: Math.round(m.external / 1048576),
      arrayBuffers: Math.round(m.arrayBuffers / 1048576),
      duck: instances.map((e) => e.last),
    };
    appendFileSync(out, `${JSON.stringify(line)}\n`);
  }, every);
  timer.unref();
}
