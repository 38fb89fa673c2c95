/**
 * The V8 heap a function of `memoryMb` gets (`--max-old-space-size`): a quarter of its memory. Ingest's
 * live heap is about 40 MB, but V8 lets the heap grow lazily up to a limit it sizes from the host, not
 * from the function. A quarter of 512 MB (128 MB) keeps an ingest's whole process, DuckDB (its own
 * 256 MB limit) included, well under 512 MB; `test/lake/ingest-memory-cap.test.ts` holds a 512 MB
 * function's setting to that.
 */
export function heapMbFor(memoryMb: number): number {
  return Math.floor(memoryMb / 4);
}
