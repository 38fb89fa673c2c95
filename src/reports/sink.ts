import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

/**
 * Where a streamed report goes: a file here, or the command's output (`outputSink` in the CLI), written
 * with backpressure so memory stays bounded however many rows come.
 */

/** A text destination that waits when its reader is slower. */
export interface TextSink {
  write(text: string): Promise<void>;
  /** Flushes and closes (a file), or just stops (stdout). */
  close(): Promise<void>;
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
