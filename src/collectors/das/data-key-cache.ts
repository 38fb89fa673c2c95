/**
 * Decrypted DAS data keys, cached so that KMS is called once per distinct data key rather than once per
 * Kinesis record: KMS latency and quotas are the hot spot of DAS decryption (formats.md 1.2).
 *
 * Bounded LRU (a Map in insertion order, refreshed on hit) with a time to live. Entries are promises, so
 * concurrent lookups of the same key share one KMS call. A load that rejects (a transient failure after its
 * retries) is dropped from the cache, so the next lookup tries again; a load that resolves (a key, or a
 * permanent refusal expressed as a value) is kept for the TTL. Keys are never logged or written anywhere.
 */

/** Options for {@link DataKeyCache}. */
export interface DataKeyCacheOptions {
  /** Most entries kept; the least recently used is evicted beyond it. Default 1000. */
  maxEntries?: number;
  /** How long an entry lives, in milliseconds. Default 10 minutes. */
  ttlMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

interface Entry<T> {
  value: Promise<T>;
  expires: number;
}

/** Counters of a {@link DataKeyCache}. */
export interface DataKeyCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  size: number;
}

/** A bounded LRU cache with TTL whose loads are coalesced. */
export class DataKeyCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private counters = { hits: 0, misses: 0, evictions: 0 };

  constructor(options: DataKeyCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 1000;
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
    this.now = options.now ?? Date.now;
    if (this.maxEntries < 1) throw new Error('data key cache: maxEntries must be at least 1');
  }

  /** The cached value of `key`, or the result of `load()` (called at most once at a time per key). */
  get(key: string, load: () => Promise<T>): Promise<T> {
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) {
      this.counters.hits++;
      // Re-insert to mark it most recently used.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value;
    }
    this.counters.misses++;
    if (hit) this.entries.delete(key);
    const value = load();
    const entry = { value, expires: now + this.ttlMs };
    this.entries.set(key, entry);
    value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.counters.evictions++;
    }
    return value;
  }

  /** Hit, miss and eviction counts, and the current size. */
  stats(): DataKeyCacheStats {
    return { ...this.counters, size: this.entries.size };
  }

  /** Drops every entry. */
  clear(): void {
    this.entries.clear();
  }
}
