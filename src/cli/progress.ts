import type { OpenedInput } from '../pipeline/open-input.js';
import type { InputStats } from '../pipeline/stats.js';
import type { Io } from './command.js';

/** A one-line progress display on a terminal, redrawn at most four times a second. */
export function progressReporter(io: Io): { update: (input: OpenedInput, stats: InputStats) => void; done: () => void } {
  let last = 0;
  let shown = false;
  const started = performance.now();
  return {
    update(input, stats) {
      const now = performance.now();
      if (now - last < 250) return;
      last = now;
      shown = true;
      const pct = input.size > 0 ? Math.min(100, (input.bytesRead() / input.size) * 100) : 0;
      const width = 24;
      const bar = '#'.repeat(Math.round((pct / 100) * width)).padEnd(width, '.');
      const rate = Math.round(stats.records / ((now - started) / 1000));
      io.err(
        `\r[${bar}] ${pct.toFixed(0).padStart(3)}% ${input.name.slice(-40)} ${stats.records.toLocaleString('en-US')} records (${rate.toLocaleString('en-US')}/s)\x1b[K`,
      );
    },
    done() {
      if (shown) io.err('\r\x1b[K');
    },
  };
}
