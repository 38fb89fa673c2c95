// Preloaded with `node --import` into a child whose memory a test measures: on exit it prints the
// process's peak resident set size (Linux VmHWM: native memory such as DuckDB's included) to stderr.
import { readFileSync, writeSync } from 'node:fs';

process.on('exit', () => {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  writeSync(2, `peak_rss_kb=${kb}\n`);
});
