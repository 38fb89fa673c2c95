import type { OpenedInput } from '../pipeline/open-input.js';
import type { InputStats } from '../pipeline/stats.js';
import type { Io } from './command.js';

/** A one-line status on stderr for a long command; see {@link startProgress}. */
export interface Progress {
  /** Redraws the status line (at most four times a second; `force` redraws at once). */
  update(text: string, force?: boolean): void;
  /**
   * Erases the status line until the next update, so that output written to the same terminal (a
   * command's stdout) does not land on it.
   */
  clear(): void;
  /** Clears the status line and, on a terminal, prints `summary` (what was done) as a final line. */
  done(summary?: string): void;
}

const QUIET: Progress = { update() {}, clear() {}, done() {} };

/**
 * Progress for any long command (compact, hunt, report, verify, query --out, ...): a status line redrawn
 * on stderr while it runs, with the elapsed time, then a final line of what was done. Only on a terminal
 * and never with `--json`, so pipes, files and machine output stay clean. A command calls `update` as
 * work advances and `done(summary)` at the end; with `ticking` the elapsed time also advances on its own
 * while one long step (a DuckDB query) gives no updates.
 */
export function startProgress(io: Io, options: { json?: boolean; ticking?: boolean } = {}): Progress {
  if (!io.tty || options.json) return QUIET;
  const started = performance.now();
  let last = 0;
  let text = '';
  let shown = false;
  const draw = () => {
    shown = true;
    io.err(`\r${text} (${((performance.now() - started) / 1000).toFixed(0)} s)\x1b[K`);
  };
  const timer = options.ticking ? setInterval(() => shown && text && draw(), 1000) : undefined;
  timer?.unref();
  return {
    update(next, force = false) {
      text = next;
      const now = performance.now();
      if (!force && now - last < 250) return;
      last = now;
      draw();
    },
    clear() {
      if (shown) io.err('\r\x1b[K');
      shown = false;
    },
    done(summary) {
      if (timer) clearInterval(timer);
      if (shown) io.err('\r\x1b[K');
      shown = false;
      if (summary) io.err(`${summary.trimEnd()}\n`);
    },
  };
}

/**
 * The ingest bar: percent of the current input read, records and rate. Once an input is read whole the
 * line says its Parquet is being written, rather than sitting at 100% while the conversion runs.
 */
export function progressReporter(
  io: Io,
  options: { json?: boolean } = {},
): { update: (input: OpenedInput, stats: InputStats) => void; done: () => void } {
  const progress = startProgress(io, { ...options, ticking: true });
  const started = performance.now();
  return {
    update(input, stats) {
      const read = input.size > 0 ? Math.min(1, input.bytesRead() / input.size) : 0;
      const width = 24;
      const bar = '#'.repeat(Math.round(read * width)).padEnd(width, '.');
      const rate = Math.round(stats.records / ((performance.now() - started) / 1000));
      const records = `${stats.records.toLocaleString('en-US')} records (${rate.toLocaleString('en-US')}/s)`;
      const name = input.name.slice(-40);
      if (read >= 1) progress.update(`[${bar}] read ${name}, ${records}; writing Parquet...`, true);
      else progress.update(`[${bar}] ${(read * 100).toFixed(0).padStart(3)}% ${name} ${records}`);
    },
    done: () => progress.done(),
  };
}
