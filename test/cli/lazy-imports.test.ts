import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The AWS SDKs, the Encryption SDK, pg and the YAML parser are loaded by the runs that use them, not by every run: a local
 * csvlog ingest, --help and --version load none of them (loading them all costs ~50 MB and ~0.6 s). The CLI
 * runs in a child with a resolve hook that records every package the process imports.
 */
describe('packages the CLI loads', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auditlake-imports-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** Runs the CLI; returns the package specifiers it imported. */
  async function importsOf(name: string, ...args: string[]): Promise<string[]> {
    const record = join(dir, `${name}.imports`);
    const r = spawnSync('node', ['--import', './test/support/record-imports.mjs', 'bin/auditlake.js', ...args], {
      encoding: 'utf8',
      env: { ...process.env, RECORD_IMPORTS: record },
    });
    expect(r.status, r.stderr).toBe(0);
    return [...new Set((await readFile(record, 'utf8')).split('\n').filter(Boolean))].sort();
  }

  const heavy = (specifiers: string[]) => specifiers.filter((s) => /^(@aws-sdk|@aws-crypto|@smithy)\/|^(pg|yaml)(\/|$)/.test(s));

  it('a local csvlog ingest loads DuckDB and none of the AWS SDKs or pg', async () => {
    const imported = await importsOf('ingest', 'ingest', 'fixtures/pgaudit/pg15.csv', '--out', join(dir, 'lake'));
    // The hook sees the packages the run does load.
    expect(imported).toContain('@duckdb/node-api');
    expect(heavy(imported)).toEqual([]);
  });

  it('--help and --version load none of them either', async () => {
    expect(heavy(await importsOf('help', '--help'))).toEqual([]);
    expect(heavy(await importsOf('version', '--version'))).toEqual([]);
  });
});
