import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { PieceJob, PieceResult } from '../collectors/contract.js';
import { startWorker, workerEntry } from '../collectors/worker-thread.js';
import type { PieceReply, PieceRequest, WorkerStages } from './parse-worker.js';

/**
 * A fixed set of parse worker threads (`parse-worker.ts`). Jobs go to the worker with the fewest
 * outstanding; the caller bounds how many are outstanding (`pieces.ts`). A worker that dies fails the
 * jobs it held and every later one, so a crash fails the input instead of hanging it.
 */

/**
 * Parse workers by default: `AUDITLAKE_PARSE_WORKERS` (at most one per core), else none. Opt-in: on the
 * 2-core machine 2 workers measured 15–20% less wall time than parsing on the main thread, but about
 * 100–150 MB more peak RSS (each worker's heap), and ingest's memory budget is what binds (README,
 * "Where ingest stands"); 1 worker is no faster than none.
 */
export function defaultParseWorkers(): number {
  const configured = process.env.AUDITLAKE_PARSE_WORKERS;
  if (configured === undefined || !/^\d+$/.test(configured)) return 0;
  return Math.min(Number(configured), availableParallelism());
}

/** Young-generation size of a worker in MB. */
const WORKER_YOUNG_MB = 32;

interface Slot {
  worker: Worker;
  outstanding: number;
}

export class ParsePool {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, { slot: Slot; resolve: (r: PieceResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  /** Pieces parsed so far (re-parses of a wrong cut included). */
  parsed = 0;
  private failure: Error | null = null;

  /** Workers start on the first job, so a run that reads no such format starts none. */
  constructor(readonly size: number) {}

  private start(): void {
    const entry = workerEntry(import.meta.url, 'parse-worker');
    if (!entry) {
      this.failure = new Error('parse workers: no parse-worker module beside parse-pool (and no tsx to load its TypeScript)');
      return;
    }
    // A larger young generation than the default, so a piece's garbage dies young (measured faster).
    const resourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_MB };
    for (let i = 0; i < this.size; i++) {
      const slot: Slot = { worker: startWorker(entry, { resourceLimits }), outstanding: 0 };
      slot.worker.on('message', (reply: PieceReply) => this.settle(slot, reply));
      slot.worker.on('error', (e) => this.fail(new Error(`parse worker failed: ${e.message}`, { cause: e })));
      slot.worker.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`parse worker exited with code ${code}`));
      });
      // An idle pool does not keep the process alive.
      slot.worker.unref();
      this.slots.push(slot);
    }
  }

  /** Parses one piece on the least busy worker, and runs `stages` on its batches before encoding them. */
  parse(job: PieceJob, keepEvents: boolean, stages: WorkerStages): Promise<PieceResult> {
    if (this.slots.length === 0 && !this.failure) this.start();
    if (this.failure) return Promise.reject(this.failure);
    const slot = this.slots.reduce((a, b) => (b.outstanding < a.outstanding ? b : a));
    const id = this.nextId++;
    const request: PieceRequest = { id, job, keepEvents, stages };
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { slot, resolve, reject });
      slot.outstanding++;
      if (slot.outstanding === 1) slot.worker.ref();
      slot.worker.postMessage(request);
    });
  }

  private settle(slot: Slot, reply: PieceReply): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if (--slot.outstanding === 0) slot.worker.unref();
    this.parsed++;
    if ('error' in reply) waiter.reject(new Error(`parse worker: ${reply.error}`));
    else waiter.resolve(reply.result);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const [id, waiter] of this.waiting) {
      this.waiting.delete(id);
      waiter.reject(error);
    }
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.failure ??= new Error('parse pool closed');
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
