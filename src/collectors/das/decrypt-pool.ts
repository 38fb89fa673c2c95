/**
 * A fixed pool of decryption worker threads (`decrypt-worker.ts`). Each DAS message costs one ECDSA P-384
 * verification, most of a record's CPU time; spreading the verifications over the machine's cores while the
 * main thread maps and writes is what lets the whole ingest keep pace with the signature checks.
 *
 * The pool is shared by every decoder of a process ({@link sharedDecryptPool}), created on first use and
 * idle-unreferenced, so it needs no closing and never keeps a finished process alive. Work goes to the worker
 * with the fewest messages in flight; the callers bound how many are in flight (the decoder's concurrency).
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker, type WorkerEntry, workerEntry } from '../worker-thread.js';
import type { DecryptReply, DecryptRequest } from './decrypt-worker.js';
import type { PayloadText } from './payload.js';

interface Pending {
  resolve: (result: PayloadText) => void;
  reject: (err: Error) => void;
}

interface PoolWorker {
  thread: Worker;
  inFlight: Map<number, Pending>;
  /** Messages this worker has answered. */
  done: number;
}

/** A pool of decryption threads. */
export class DecryptPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;

  private constructor(
    private readonly entry: WorkerEntry,
    readonly threads: number,
  ) {
    for (let i = 0; i < threads; i++) this.workers.push(this.spawn());
  }

  /** A pool of `threads` workers, or null when the worker's code cannot be found (then decrypt in-thread). */
  static create(threads: number): DecryptPool | null {
    const entry = workerEntry(import.meta.url, 'decrypt-worker');
    return entry && threads > 0 ? new DecryptPool(entry, threads) : null;
  }

  private spawn(): PoolWorker {
    const thread = startWorker(this.entry);
    const worker: PoolWorker = { thread, inFlight: new Map(), done: 0 };
    thread.on('message', (reply: DecryptReply) => {
      const pending = worker.inFlight.get(reply.id);
      if (!pending) return;
      worker.inFlight.delete(reply.id);
      worker.done++;
      if (worker.inFlight.size === 0) thread.unref();
      pending.resolve(reply.ok ? { ok: true, json: reply.json } : { ok: false, reason: reply.reason });
    });
    // A worker that dies fails the messages it held (the run reports it; nothing is skipped silently) and
    // is replaced, so one bad message cannot take decryption down for the rest of the process.
    const fail = (err: Error) => {
      const index = this.workers.indexOf(worker);
      if (index === -1) return;
      this.workers[index] = this.spawn();
      for (const pending of worker.inFlight.values()) pending.reject(err);
      worker.inFlight.clear();
    };
    thread.on('error', (err) => fail(new Error(`DAS decryption worker failed: ${err.message}`, { cause: err })));
    thread.on('exit', (code) => fail(new Error(`DAS decryption worker exited with code ${code}`)));
    // After the listeners: adding a 'message' listener refs the worker's port again, and an idle pool
    // must never keep a finished process alive.
    thread.unref();
    return worker;
  }

  /** Decrypts and gunzips one fast-path message (see `isDasFastPathMessage`) on a worker. */
  decrypt(dataKey: Uint8Array, message: Uint8Array): Promise<PayloadText> {
    let worker = this.workers[0];
    for (const w of this.workers) if (w.inFlight.size < worker.inFlight.size) worker = w;
    const id = this.nextId++;
    // Copied into a buffer of its own and moved: `message` may be a view into a shared pool slab.
    const own = new Uint8Array(message);
    return new Promise<PayloadText>((resolve, reject) => {
      if (worker.inFlight.size === 0) worker.thread.ref();
      worker.inFlight.set(id, { resolve, reject });
      const request: DecryptRequest = { id, key: dataKey, message: own };
      worker.thread.postMessage(request, [own.buffer]);
    });
  }

  /** Messages answered by each current worker. */
  stats(): number[] {
    return this.workers.map((w) => w.done);
  }

  /** Stops the workers; messages still in flight fail. */
  async close(): Promise<void> {
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.thread.terminate()));
  }
}

/**
 * Decryption threads for this process: `AUDITLAKE_DECRYPT_THREADS` when set (0 decrypts on the main thread),
 * else one per core up to 4, and none on a single core (a worker there only adds hand-offs).
 */
export function decryptThreads(env: NodeJS.ProcessEnv = process.env): number {
  const set = env.AUDITLAKE_DECRYPT_THREADS;
  if (set !== undefined && set !== '') {
    const n = Number(set);
    if (!Number.isInteger(n) || n < 0 || n > 64)
      throw new Error(`AUDITLAKE_DECRYPT_THREADS must be a whole number from 0 to 64, not ${JSON.stringify(set)}`);
    return n;
  }
  const cores = availableParallelism();
  return cores < 2 ? 0 : Math.min(cores, 4);
}

let shared: DecryptPool | null | undefined;

/** The process-wide pool, created on first use; null when decryption runs on the main thread. */
export function sharedDecryptPool(): DecryptPool | null {
  if (shared === undefined) shared = DecryptPool.create(decryptThreads());
  return shared;
}
