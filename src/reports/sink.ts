import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Io } from '../cli/command.js';

/**
 * Where a streamed report goes: stdout or a file, written with backpressure so memory stays bounded
 * however many rows come. A reader that goes away (`auditlake report ... | head`) ends the output
 * quietly: the next write throws {@link OutputClosed}, which the command treats as success.
 */

/** A text destination that waits when its reader is slower. */
export interface TextSink {
  write(text: string): Promise<void>;
  /** Flushes and closes (a file), or just stops (stdout). */
  close(): Promise<void>;
}

/** The reader of the output went away (EPIPE): stop producing, exit 0. */
export class OutputClosed extends Error {
  constructor() {
    super('output closed by its reader');
  }
}

let stdoutClosed = false;
let stdoutWatched = false;

/** Notices EPIPE on stdout once for the process, instead of letting it crash with a stack trace. */
function watchStdout(): void {
  if (stdoutWatched) return;
  stdoutWatched = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') stdoutClosed = true;
    else process.stderr.write(`auditlake: writing output: ${e.message}\n`);
  });
}

/** The command's stdout (through `io.out`, so tests capture it), waiting for `drain` when the pipe is full. */
export function stdoutSink(io: Io): TextSink {
  watchStdout();
  const out = process.stdout;
  return {
    async write(text) {
      if (stdoutClosed) throw new OutputClosed();
      io.out(text);
      // once() rejects on 'error': EPIPE while waiting is the reader going away, like a close.
      if (out.writableNeedDrain) await once(out, 'drain').catch(() => {});
      if (stdoutClosed) throw new OutputClosed();
    },
    async close() {},
  };
}

/** A file, created or replaced. */
export function fileSink(path: string): TextSink {
  const stream = createWriteStream(path);
  let failure: Error | null = null;
  stream.on('error', (e) => {
    failure = e;
  });
  return {
    async write(text) {
      if (failure) throw failure;
      // once() rejects when the stream emits 'error' while waiting.
      if (!stream.write(text)) await once(stream, 'drain');
      if (failure) throw failure;
    },
    async close() {
      if (failure) throw failure;
      stream.end();
      await once(stream, 'finish');
    },
  };
}
