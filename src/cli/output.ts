import { once } from 'node:events';
import type { TextSink } from '../reports/sink.js';
import type { Io } from './command.js';

/**
 * Makes a closed standard output end the run quietly with exit 0, as `cat` and `psql` do when piped
 * into `head`: the reader has what it wanted. Without it Node reports the EPIPE as an unhandled error
 * with a stack trace. Installed once by the CLI entry point; covers everything written to stdout.
 */
export function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
    for (const release of releases) release();
    process.exit(0);
  });
}

const releases = new Set<() => void>();

/**
 * Registers what must be let go before the process can exit on a closed output, e.g. the read end of
 * a FIFO a DuckDB thread is blocked writing into (exit waits for that thread). Returns the unregister.
 */
export function onOutputClosed(release: () => void): () => void {
  releases.add(release);
  return () => releases.delete(release);
}

/** The process's own {@link Io}: stdout with backpressure, stderr, and whether stderr is a terminal. */
export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => {
      process.stderr.write(text);
    },
    tty: Boolean(process.stderr.isTTY),
    drain: () => once(process.stdout, 'drain').then(() => undefined),
  };
}

/**
 * Writes to the command's output and waits while the reader is behind, so a streaming command holds
 * at most one chunk in memory however slow the pipe. Use it for output that grows with the data.
 */
export async function writeOut(io: Io, text: string): Promise<void> {
  if (io.out(text) === false && io.drain) await io.drain();
}

/**
 * The command's output as a {@link TextSink} for report and export writers, with {@link writeOut}'s
 * backpressure. A reader that goes away ends the process quietly ({@link endQuietlyOnClosedPipe}).
 */
export function outputSink(io: Io): TextSink {
  return { write: (text) => writeOut(io, text), close: async () => {} };
}
