import { cp, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { type BuildOptions, build } from 'esbuild';

/**
 * Bundles each Lambda handler into `dist/lambda/<handler>/index.mjs` (ESM, Node 22, minified, with a
 * source map). DuckDB's native library cannot be bundled: `@duckdb/node-api` stays external and is
 * copied, with the bindings for Lambda's linux-x64 runtime, into `dist/lambda/<handler>/node_modules`.
 * The built-in rules are copied beside the bundle. Run: npm run build:lambda
 */

export const HANDLERS = ['kinesis-das', 'cloudwatch-logs', 's3-objects'] as const;
export const OUT_DIR = 'dist/lambda';

/** Packages the bundle loads at run time, and the files of each it needs (prefixes relative to the package). */
const RUNTIME_PACKAGES: Record<string, string[]> = {
  '@duckdb/node-api': ['package.json', 'LICENSE', 'lib/'],
  '@duckdb/node-bindings': ['package.json', 'LICENSE', 'duckdb.js'],
  '@duckdb/node-bindings-linux-x64': ['package.json', 'LICENSE', 'duckdb.node', 'libduckdb.so'],
  'detect-libc': ['package.json', 'LICENSE', 'lib/'],
};

/** Copies the listed files of a package (type declarations and source maps left out). */
async function copyPackage(name: string, keep: string[], target: string): Promise<void> {
  const from = join('node_modules', name);
  await cp(from, join(target, 'node_modules', name), {
    recursive: true,
    filter: (src) => {
      const rel = relative(from, src);
      if (rel === '') return true;
      if (/\.d\.(c|m)?ts$|\.map$/.test(rel)) return false;
      return keep.some((k) => (k.endsWith('/') ? rel === k.slice(0, -1) || rel.startsWith(k) : rel === k));
    },
  });
}

/** Total size in bytes of the files under a path. */
export async function sizeOf(path: string): Promise<number> {
  const s = await stat(path);
  if (!s.isDirectory()) return s.size;
  let total = 0;
  for (const entry of await readdir(path)) total += await sizeOf(join(path, entry));
  return total;
}

/** Builds one handler's folder; returns its path. */
export async function buildHandler(handler: (typeof HANDLERS)[number], outDir = OUT_DIR): Promise<string> {
  const dir = join(outDir, handler);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const options: BuildOptions = {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    legalComments: 'none',
    external: ['@duckdb/node-api'],
    mainFields: ['module', 'main'],
    // Bundled CommonJS dependencies call require() for Node built-ins; ESM has none of its own.
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    logLevel: 'warning',
  };
  await build({ ...options, entryPoints: [`src/lambda/${handler}.ts`], outfile: join(dir, 'index.mjs') });
  // DAS decryption threads run this file, which `decrypt-pool.ts` looks for beside the handler.
  await build({ ...options, entryPoints: ['src/collectors/das/decrypt-worker.ts'], outfile: join(dir, 'decrypt-worker.mjs') });
  for (const [name, keep] of Object.entries(RUNTIME_PACKAGES)) await copyPackage(name, keep, dir);
  await cp('rules', join(dir, 'rules'), { recursive: true });
  return dir;
}

async function main(): Promise<void> {
  for (const handler of HANDLERS) {
    const dir = await buildHandler(handler);
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
    const bundle = await sizeOf(join(dir, 'index.mjs'));
    const modules = await sizeOf(join(dir, 'node_modules'));
    console.log(`${dir}: index.mjs ${mb(bundle)}, node_modules ${mb(modules)}, total ${mb(await sizeOf(dir))}`);
  }
}

if (process.argv[1]?.endsWith('build-lambda.ts')) await main();
