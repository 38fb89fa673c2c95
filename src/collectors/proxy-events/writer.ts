import { type FileHandle, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDir } from '../../lake/make-dir.js';
import type { Batch } from '../../schema/index.js';
import { eventToJsonLine } from './format.js';

/**
 * Writes proxy events as rotated JSONL files in a folder (`--events <dir>`). A file is written under a
 * `.partial` name and renamed to `.jsonl` when it is rotated or the writer closes, so whoever ingests
 * the folder never reads a file that is still growing.
 */

/** Options of {@link openProxyEventsWriter}. */
export interface ProxyEventsWriterOptions {
  dir: string;
  /** Rotate when a file reaches this size. Default 64 MiB. */
  maxBytes?: number;
  /** Rotate when a file is this old. Default 10 minutes. */
  maxAgeMs?: number;
  /** File name prefix, e.g. the proxy instance id. Default `proxy-events`. */
  prefix?: string;
  /** Mode of the files: they hold statement text. Default 0600 (owner only). */
  fileMode?: number;
}

/** A JSONL writer; batches are written in order, one write call each. */
export interface ProxyEventsWriter {
  write(batch: Batch): Promise<void>;
  /** Finishes the current file. */
  close(): Promise<void>;
  /** Paths of the finished files so far. */
  readonly files: readonly string[];
}

/** Opens a writer; the folder is created when missing. */
export async function openProxyEventsWriter(options: ProxyEventsWriterOptions): Promise<ProxyEventsWriter> {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const maxAgeMs = options.maxAgeMs ?? 10 * 60 * 1000;
  const prefix = options.prefix ?? 'proxy-events';
  const fileMode = options.fileMode ?? 0o600;
  await makeDir(options.dir, fileMode | ((fileMode & 0o444) >> 2));
  const files: string[] = [];
  let handle: FileHandle | null = null;
  let path = '';
  let bytes = 0;
  let openedAt = 0;
  let seq = 0;

  const finish = async () => {
    if (!handle) return;
    await handle.close();
    handle = null;
    const done = path.replace(/\.partial$/, '');
    await rename(path, done);
    files.push(done);
  };

  return {
    files,
    async write(batch) {
      if (batch.events.length === 0) return;
      if (handle && (bytes >= maxBytes || Date.now() - openedAt >= maxAgeMs)) await finish();
      if (!handle) {
        // A sortable UTC stamp and a sequence number keep names unique and in write order.
        const stamp = new Date().toISOString().replace(/[-:.]/g, '');
        path = join(options.dir, `${prefix}-${stamp}-${String(seq++).padStart(6, '0')}.jsonl.partial`);
        handle = await open(path, 'wx', fileMode);
        await handle.chmod(fileMode); // the umask may have taken bits away; the mode asked for is what counts
        bytes = 0;
        openedAt = Date.now();
      }
      let text = '';
      for (const event of batch.events) text += eventToJsonLine(event);
      const data = Buffer.from(text, 'utf8');
      await handle.write(data);
      bytes += data.length;
    },
    close: finish,
  };
}

/** Passes batches through, writing each one to `writer` first; closes the writer at the end. */
export async function* teeToJsonl(batches: AsyncIterable<Batch>, writer: ProxyEventsWriter): AsyncIterable<Batch> {
  try {
    for await (const batch of batches) {
      await writer.write(batch);
      yield batch;
    }
  } finally {
    await writer.close();
  }
}
