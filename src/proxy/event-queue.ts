import type { AuditEvent, Batch, Rejected } from '../schema/index.js';
import { newBatch, skip } from '../schema/index.js';

/**
 * The bounded queue between the recording sessions and whoever consumes the proxy's events (the
 * pipeline, a JSONL writer). Sessions push events; the consumer pulls {@link Batch}es, cut when a batch
 * reaches `flushSize` events or its first record is `flushAgeMs` old.
 *
 * Capacity is counted in buffered events. When it is reached:
 * - `block` (default, fail-closed): {@link BatchQueue.onPressure} tells the proxy to stop reading from
 *   clients, so no new statement reaches the server unrecorded. Completions of statements already relayed
 *   are still accepted, so the queue can exceed capacity by what is in flight; reading resumes once the
 *   consumer has drained it below half.
 * - `drop`: events over capacity are dropped, counted in {@link QueueStats.dropped} and under the skipped
 *   reason {@link DROPPED_REASON} of the batch being filled, so the loss is visible downstream.
 */

/** What to do when the queue is full. */
export type OverflowPolicy = 'block' | 'drop';

/** Skipped reason under which dropped events are counted. */
export const DROPPED_REASON = 'event dropped: queue full';

/** Counters of a {@link BatchQueue}. */
export interface QueueStats {
  /** Events accepted into the queue. */
  events: number;
  /** Events dropped under the `drop` policy. */
  dropped: number;
  /** Batches handed to the consumer. */
  batches: number;
  /** Events waiting for the consumer right now. */
  buffered: number;
  /** Times the queue asked the proxy to stop reading from clients. */
  blocked: number;
}

/** Where a session puts what it records. */
export interface EventSink {
  push(event: AuditEvent): void;
  reject(item: Rejected): void;
  skip(reason: string, count?: number): void;
  /** Counts raw records (client messages) consumed. */
  records(n: number): void;
}

/** Options of a {@link BatchQueue}. */
export interface BatchQueueOptions {
  capacity: number;
  flushSize: number;
  flushAgeMs: number;
  onOverflow: OverflowPolicy;
}

/** See the module comment. One consumer iterates it, once. */
export class BatchQueue implements EventSink, AsyncIterable<Batch> {
  /** Called with true when the proxy must stop reading from clients, false when it may resume. */
  onPressure: (full: boolean) => void = () => {};

  private current: Batch = newBatch();
  private readonly ready: Batch[] = [];
  private buffered = 0;
  private full = false;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private readonly counters = { events: 0, dropped: 0, batches: 0, blocked: 0 };

  constructor(private readonly options: BatchQueueOptions) {}

  push(event: AuditEvent): void {
    if (this.buffered >= this.options.capacity) {
      if (this.options.onOverflow === 'drop') {
        this.counters.dropped++;
        skip(this.current, DROPPED_REASON);
        this.touched();
        return;
      }
      if (!this.full) {
        this.full = true;
        this.counters.blocked++;
        this.onPressure(true);
      }
    }
    this.current.events.push(event);
    this.buffered++;
    this.counters.events++;
    if (this.current.events.length >= this.options.flushSize) this.flush();
    else this.touched();
  }

  reject(item: Rejected): void {
    this.current.rejected.push(item);
    this.touched();
  }

  skip(reason: string, count = 1): void {
    skip(this.current, reason, count);
    this.touched();
  }

  records(n: number): void {
    this.current.records += n;
    this.touched();
  }

  /** Counters so far. */
  stats(): QueueStats {
    return { ...this.counters, buffered: this.buffered };
  }

  /** Flushes what is pending and ends the iteration once the consumer has taken everything. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.signal();
  }

  /** Moves the batch being filled to the consumer's side, if it holds anything. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const b = this.current;
    if (b.events.length === 0 && b.rejected.length === 0 && b.records === 0 && Object.keys(b.skipped).length === 0) return;
    this.ready.push(b);
    this.current = newBatch();
    this.signal();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    while (true) {
      const batch = this.ready.shift();
      if (batch) {
        this.buffered -= batch.events.length;
        this.counters.batches++;
        if (this.full && this.buffered < this.options.capacity / 2) {
          this.full = false;
          this.onPressure(false);
        }
        yield batch;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** Starts the age clock when the batch being filled gets its first content. */
  private touched(): void {
    if (this.timer === null && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.options.flushAgeMs);
      this.timer.unref();
    }
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
