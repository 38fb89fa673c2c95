/**
 * Runs an async function over items with at most `concurrency` calls in flight and yields the results in input
 * order. The window is the bound: a slow item holds back later results (and new work) rather than letting an
 * unbounded number of results pile up.
 */
export async function* mapOrdered<T, R>(items: Iterable<T>, concurrency: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const window: Promise<R>[] = [];
  try {
    for (const item of items) {
      const p = fn(item);
      // Mark as handled now; the rejection is re-raised when its turn comes.
      p.catch(() => {});
      window.push(p);
      if (window.length >= concurrency) yield await (window.shift() as Promise<R>);
    }
    while (window.length) yield await (window.shift() as Promise<R>);
  } finally {
    // On an early exit, let in-flight calls finish before returning, so none outlives its caller.
    await Promise.allSettled(window);
  }
}
