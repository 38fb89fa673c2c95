import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starting a worker thread on a sibling module, the same way for every pool (parse workers, DAS
 * decryption): built, the sibling is JavaScript (`dist/`, or `.mjs` in a Lambda bundle) and runs as is;
 * in a checkout it is TypeScript, loaded through tsx's ESM API, since the main thread's loader hooks do
 * not reach worker threads.
 */

/** How to start a worker: a script file, or (in a checkout) a bootstrap evaluated as code. */
export interface WorkerEntry {
  script: string;
  eval: boolean;
}

/** The file URL of tsx's ESM API (a development dependency), or null when it is not installed. */
function tsxEsmApi(): string | null {
  try {
    // Resolved from here, not from the worker: it would resolve a bare name from the working directory.
    const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
    const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
    return pathToFileURL(join(dirname(manifest), exports['./esm/api'].import.default)).href;
  } catch {
    return null;
  }
}

/**
 * Where the worker `name` (a module beside `from`, an `import.meta.url`) is: `name.js` or `name.mjs`, else
 * `name.ts` through tsx. Null when neither exists (or tsx is missing), so the caller can work in-thread.
 */
export function workerEntry(from: string, name: string): WorkerEntry | null {
  for (const ext of ['.js', '.mjs']) {
    const file = fileURLToPath(new URL(`./${name}${ext}`, from));
    if (existsSync(file)) return { script: file, eval: false };
  }
  const source = new URL(`./${name}.ts`, from);
  if (!existsSync(fileURLToPath(source))) return null;
  const tsx = tsxEsmApi();
  if (!tsx) return null;
  // tsImport scopes tsx's loader to this import and what it imports, in the worker thread only.
  const script = `import(${JSON.stringify(tsx)}).then((tsx) => tsx.tsImport(${JSON.stringify(source.href)}, ${JSON.stringify(source.href)}));`;
  return { script, eval: true };
}

/** Starts a worker thread on an entry from {@link workerEntry}. */
export function startWorker(entry: WorkerEntry, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  return new Worker(entry.script, { ...options, eval: entry.eval });
}
