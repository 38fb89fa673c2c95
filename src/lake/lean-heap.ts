import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets its old generation grow past what survived the last full collection before it
 * collects again: 100% (twice the live heap) instead of V8's own factor, up to 4x on a heap this small.
 *
 * An ingest keeps 20-40 MB alive, but the heap grew to 90-170 MB of mostly garbage, and with it the
 * read chunks it held: their native memory is freed only when their JavaScript objects are collected.
 * On a 200 MB csvlog, with the other memory settings, this took peak RSS from 305-330 MB to 260-280 MB.
 * Measured on the recorded real log: V8's default 23 full collections (0.27 s), 100% 32 (0.47 s) at the
 * same wall time, 60% 52, 10% 79 (0.91 s, 2 s more CPU) for 10-20 MB less. It is not a limit: the heap
 * still grows as far as the work needs.
 */
export const INGEST_HEAP_GROWING_PERCENT = 100;

let applied = false;

/**
 * Sets the ingest heap policy for this process, once. V8 reads this flag each time it sizes the heap,
 * so it takes effect when set at run time; Node refuses V8 flags in NODE_OPTIONS beyond a short list,
 * so a Lambda function cannot be given it any other way. Called by the ingest entry points only: the
 * proxy's heap is small and lives with V8's default.
 */
export function useLeanHeap(): void {
  if (applied) return;
  applied = true;
  setFlagsFromString(`--heap-growing-percent=${INGEST_HEAP_GROWING_PERCENT}`);
}
