import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportLake } from '../support/report-lake.js';

/** A reader that stops early (`| head -1`) ends report and export quietly, exit 0, nothing on stderr. */

const run = promisify(execFile);
let lake: Awaited<ReturnType<typeof reportLake>>;
/** The commands' own temporary folder: whatever they leave behind shows here. */
let temp: string;

beforeAll(async () => {
  lake = await reportLake();
  temp = await mkdtemp(join(tmpdir(), 'auditlake-pipe-'));
}, 120_000);
afterAll(async () => {
  await lake.cleanup();
  await rm(temp, { recursive: true, force: true });
});

async function piped(command: string): Promise<{ stdout: string; stderr: string }> {
  // pipefail: the exit status is auditlake's, not head's.
  const result = await run('bash', ['-c', `set -o pipefail; ${command} | head -1`], {
    timeout: 60_000,
    env: { ...process.env, TMPDIR: temp },
  });
  // Ended early by the closed pipe, the command still removed its DuckDB spill folder (tsx's cache may be there).
  expect((await readdir(temp)).filter((f) => !f.startsWith('tsx-'))).toEqual([]);
  return result;
}

describe('a pipe into head', () => {
  it('ends export ocsf --out - quietly (about 400 KB of output, far more than a pipe holds)', async () => {
    const { stdout, stderr } = await piped(`node bin/auditlake.js export ocsf --lake ${lake.dir} --out - --format jsonl`);
    expect(JSON.parse(stdout)).toMatchObject({ metadata: { version: '1.3.0' } });
    expect(stderr).toBe('');
  });

  it('ends report quietly', async () => {
    const { stdout, stderr } = await piped(`node bin/auditlake.js report all --lake ${lake.dir}`);
    expect(stdout.trim()).toBe('');
    const json = await piped(`node bin/auditlake.js report user-activity --lake ${lake.dir} --format json`);
    expect(json.stdout).toBe('[\n');
    expect(stderr + json.stderr).toBe('');
  });
});
