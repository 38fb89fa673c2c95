/**
 * Pending items ordered by (time, id): the engine holds events here until the watermark passes them,
 * then releases them in event-time order. Audit streams arrive nearly in order, so this is a sorted
 * array filled from the tail (an in-order item is an O(1) append; a late one is placed by binary search)
 * and drained from a moving head, which beats a heap on such input. Capacity is enforced by the engine.
 */
export class ReorderBuffer<T extends { t: number; id: string }> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  /** The earliest item, without removing it. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Adds an item; false (and nothing added) when an item with the same (time, id) is held: an event delivered twice counts once. */
  push(item: T): boolean {
    const items = this.items;
    const last = items.length - 1;
    if (last < this.head || !before(item, items[last])) {
      if (last >= this.head && same(item, items[last])) return false;
      items.push(item);
      return true;
    }
    let lo = this.head;
    let hi = last;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(item, items[mid])) hi = mid;
      else lo = mid + 1;
    }
    if (lo > this.head && same(item, items[lo - 1])) return false;
    items.splice(lo, 0, item);
    return true;
  }

  /** Removes and returns the earliest item. */
  pop(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined as unknown as T;
    this.head++;
    // Compact once the released prefix dominates, so memory follows what is held.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

function same(a: { t: number; id: string }, b: { t: number; id: string }): boolean {
  return a.t === b.t && a.id === b.id;
}

/** Event order everywhere in rules: event time, then event id (as the SQL's `ORDER BY t, event_id`). */
export function before(a: { t: number; id: string }, b: { t: number; id: string }): boolean {
  return a.t < b.t || (a.t === b.t && a.id < b.id);
}
