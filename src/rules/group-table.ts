/**
 * Per-group state of one rule, bounded two ways: entries whose time has passed are evicted by
 * {@link GroupTable.sweep}, and when more than `capacity` groups are live the least recently touched
 * one is evicted (policy: evict oldest, counted). Both counts are reported by the engine's stats.
 *
 * Entries are kept in a `Map` in touch order (delete + set on every update). The engine feeds events
 * in event-time order, so touch order is also expiry order and a sweep stops at the first live entry.
 */
export class GroupTable<S> {
  private readonly entries = new Map<string, S>();
  /** Entries evicted because their time had passed. */
  evictedExpired = 0;
  /** Entries evicted because the table was full. */
  evictedCap = 0;

  constructor(
    private readonly capacity: number,
    /** Time (µs) from which an entry can no longer matter. */
    private readonly expiry: (state: S) => number,
    /** Told of each entry evicted because the table was full (its loss may change later alerts). */
    private readonly onCapEvict?: (key: string, state: S) => void,
  ) {}

  /** The state of a group, if any. */
  get(key: string): S | undefined {
    return this.entries.get(key);
  }

  /** Stores `state` as the most recently touched entry, evicting the oldest when over capacity. */
  touch(key: string, state: S): void {
    this.entries.delete(key);
    this.entries.set(key, state);
    if (this.entries.size > this.capacity) {
      const [oldest, state] = this.entries.entries().next().value as [string, S];
      this.entries.delete(oldest);
      this.evictedCap++;
      this.onCapEvict?.(oldest, state);
    }
  }

  /** Evicts entries whose expiry is at or before `now`. */
  sweep(now: number): void {
    for (const [key, state] of this.entries) {
      if (this.expiry(state) > now) break;
      this.entries.delete(key);
      this.evictedExpired++;
    }
  }

  /** Live entries. */
  get size(): number {
    return this.entries.size;
  }
}
