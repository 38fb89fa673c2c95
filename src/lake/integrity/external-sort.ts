import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * An external merge sort for `verify`: items are kept in memory up to `runSize`, then sorted and
 * written to a run file (one JSON value a line) in a scratch folder; reading merges the runs, at most
 * `FAN_IN` at a time. Memory holds one run's items and a small read buffer per merged run, whatever
 * the number of items.
 */

/** Items sorted in memory before a run is written: about 5-10 MB of small tuples. */
export const RUN_SIZE = 16_384;

/** Runs merged at once; more are first merged into longer runs, so open files and buffers stay bounded. */
export const FAN_IN = 32;

/** Read buffer per run being merged. */
const READ_BUFFER = 64 * 1024;

/** Compares strings by UTF-16 code units, as `Array.prototype.sort` does. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts more items than memory should hold: JSON-serializable items, `compare` a total order (no two items equal). */
export class ExternalSorter<T> {
  private buffer: T[] = [];
  private runs: string[] = [];
  private written = 0;

  constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly compare: (a: T, b: T) => number,
    private readonly runSize = RUN_SIZE,
  ) {}

  /** Adds an item; writes a run when the buffer is full. */
  async add(item: T): Promise<void> {
    this.buffer.push(item);
    if (this.buffer.length >= this.runSize) await this.spill();
  }

  /** The items in order; call once, after the last `add`. Run files are removed as the read ends. */
  async *sorted(): AsyncGenerator<T> {
    if (this.runs.length === 0) {
      // Everything fits in one run: no file at all.
      const items = this.buffer.sort(this.compare);
      this.buffer = [];
      yield* items;
      return;
    }
    if (this.buffer.length > 0) await this.spill();
    while (this.runs.length > FAN_IN) {
      const group = this.runs.splice(0, FAN_IN);
      const path = this.nextRunPath();
      await writeRun(path, merge(group.map(readRun<T>), this.compare));
      await Promise.all(group.map((p) => rm(p, { force: true })));
      this.runs.push(path);
    }
    const runs = this.runs;
    this.runs = [];
    try {
      yield* merge(runs.map(readRun<T>), this.compare);
    } finally {
      await Promise.all(runs.map((p) => rm(p, { force: true })));
    }
  }

  private nextRunPath(): string {
    return join(this.dir, `${this.name}-${this.written++}.jsonl`);
  }

  private async spill(): Promise<void> {
    const items = this.buffer.sort(this.compare);
    this.buffer = [];
    const path = this.nextRunPath();
    await writeFile(path, `${items.map((i) => JSON.stringify(i)).join('\n')}\n`);
    this.runs.push(path);
  }
}

/** Reads a run file back, one item a line. */
async function* readRun<T>(path: string): AsyncGenerator<T> {
  const lines = createInterface({ input: createReadStream(path, { highWaterMark: READ_BUFFER }), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) if (line !== '') yield JSON.parse(line) as T;
}

/** Writes a sorted stream as a run file, waiting for the disk when its buffer is full. */
async function writeRun<T>(path: string, items: AsyncIterable<T>): Promise<void> {
  const out = createWriteStream(path);
  const failed = once(out, 'error').then(([e]) => {
    throw e;
  });
  failed.catch(() => {});
  for await (const item of items) if (!out.write(`${JSON.stringify(item)}\n`)) await Promise.race([once(out, 'drain'), failed]);
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
}

/** K-way merge of sorted streams through a binary min-heap of their heads. */
async function* merge<T>(streams: AsyncGenerator<T>[], compare: (a: T, b: T) => number): AsyncGenerator<T> {
  const heap: { item: T; source: number }[] = [];
  const less = (a: { item: T; source: number }, b: { item: T; source: number }) => {
    const c = compare(a.item, b.item);
    return c < 0 || (c === 0 && a.source < b.source);
  };
  const push = (entry: { item: T; source: number }) => {
    heap.push(entry);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!less(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  };
  const siftDown = () => {
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < heap.length && less(heap[l], heap[min])) min = l;
      if (r < heap.length && less(heap[r], heap[min])) min = r;
      if (min === i) return;
      [heap[i], heap[min]] = [heap[min], heap[i]];
      i = min;
    }
  };
  try {
    for (const [source, stream] of streams.entries()) {
      const next = await stream.next();
      if (!next.done) push({ item: next.value, source });
    }
    while (heap.length > 0) {
      const top = heap[0];
      yield top.item;
      const next = await streams[top.source].next();
      if (next.done) {
        const last = heap.pop() as { item: T; source: number };
        if (heap.length === 0) break;
        heap[0] = last;
      } else heap[0] = { item: next.value, source: top.source };
      siftDown();
    }
  } finally {
    await Promise.all(streams.map((s) => s.return(undefined)));
  }
}
