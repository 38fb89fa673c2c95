import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, workerEntry } from '../../src/collectors/worker-thread.js';

/** The one way pools start their worker threads: built JavaScript as is, TypeScript through tsx. */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auditlake-worker-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('worker threads', () => {
  it('runs a built sibling (.mjs, as in a Lambda bundle) as a script', async () => {
    await writeFile(join(dir, 'echo-worker.mjs'), "import { parentPort } from 'node:worker_threads'; parentPort.postMessage('built');\n");
    const from = pathToFileURL(join(dir, 'pool.js')).href;
    const entry = workerEntry(from, 'echo-worker');
    expect(entry).toEqual({ script: join(dir, 'echo-worker.mjs'), eval: false });
    const worker = startWorker(entry as NonNullable<typeof entry>);
    expect((await once(worker, 'message'))[0]).toBe('built');
    await worker.terminate();
  });

  it('loads a TypeScript sibling through tsx in a checkout, and gives null when there is none', async () => {
    await writeFile(
      join(dir, 'typed-worker.ts'),
      "import { parentPort } from 'node:worker_threads';\nconst n: number = 6 * 7;\nparentPort?.postMessage(n);\n",
    );
    const from = pathToFileURL(join(dir, 'pool.ts')).href;
    const entry = workerEntry(from, 'typed-worker');
    expect(entry?.eval).toBe(true);
    const worker = startWorker(entry as NonNullable<typeof entry>);
    expect((await once(worker, 'message'))[0]).toBe(42);
    await worker.terminate();
    expect(workerEntry(from, 'missing-worker')).toBeNull();
  });
});
