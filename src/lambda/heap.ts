/**
 * The V8 heap a function of `memoryMb` gets (`--max-old-space-size`): a quarter of its memory. Ingest's
 * live heap is small, but V8 grows the heap lazily up to its limit, which it sizes from the host, not the
 * function: left alone, an ingest of a 294 MB log peaks at about 690 MB of RSS. With a quarter of 512 MB
 * (128 MB) the same ingest peaks at about 390 MB, DuckDB (its own 256 MB limit) included, for about a
 * third more CPU; `test/lake/ingest-memory-cap.test.ts` holds a 512 MB function's setting to that.
 */
export function heapMbFor(memoryMb: number): number {
  return Math.floor(memoryMb / 4);
}
