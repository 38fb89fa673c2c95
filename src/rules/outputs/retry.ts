import { setTimeout as sleep } from 'node:timers/promises';

/** How a transient failure is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 5). */
  attempts?: number;
  /** First backoff ceiling in ms (default 200); doubles each attempt. */
  baseDelayMs?: number;
  /** Largest backoff ceiling in ms (default 10,000). */
  maxDelayMs?: number;
}

/** Marks a failure that retrying cannot fix (e.g. HTTP 400). */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/**
 * Runs `attempt` until it succeeds, a {@link PermanentError} is thrown or the attempts run out, waiting
 * a "full jitter" backoff between tries (uniform in [0, min(max, base·2^n)]) so that many senders
 * retrying at once spread out.
 */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, policy: RetryPolicy = {}): Promise<T> {
  const attempts = policy.attempts ?? 5;
  const base = policy.baseDelayMs ?? 200;
  const max = policy.maxDelayMs ?? 10_000;
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (error instanceof PermanentError || n + 1 >= attempts) throw error;
      await sleep(Math.random() * Math.min(max, base * 2 ** n));
    }
  }
}
