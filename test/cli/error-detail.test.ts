import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { debugWanted, errorDetail } from '../../src/pipeline/error-detail.js';

async function cli(...argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await runCli(argv, {
    out: () => true,
    err: (t) => {
      err += t;
    },
    tty: false,
  });
  return { code, err };
}

describe('error detail', () => {
  const saved = process.env.AUDITLAKE_DEBUG;
  afterEach(() => {
    if (saved === undefined) delete process.env.AUDITLAKE_DEBUG;
    else process.env.AUDITLAKE_DEBUG = saved;
  });

  it('follows the cause chain', () => {
    const root = new Error('ENOENT: no such file');
    const detail = errorDetail(new Error('lake/x.json: cannot read', { cause: new Error('reading state', { cause: root }) }));
    expect(detail).toMatch(/^Error: lake\/x\.json: cannot read\n {4}at /);
    expect(detail).toContain('\ncaused by: Error: reading state\n    at ');
    expect(detail).toContain('\ncaused by: Error: ENOENT: no such file\n    at ');
    expect(errorDetail('a string')).toBe('a string');
  });

  it('prints one line by default, and the stack and causes with AUDITLAKE_DEBUG=1', async () => {
    delete process.env.AUDITLAKE_DEBUG;
    const quiet = await cli('sessions', '--lake', '/nonexistent/lake');
    expect(quiet.code).toBe(1);
    expect(quiet.err).toBe('auditlake sessions: --lake /nonexistent/lake: no such folder, so no lake there\n');
    process.env.AUDITLAKE_DEBUG = '1';
    expect(debugWanted()).toBe(true);
    const loud = await cli('sessions', '--lake', '/nonexistent/lake');
    expect(loud.code).toBe(1);
    const lines = loud.err.split('\n');
    expect(lines[0]).toBe(quiet.err.trimEnd());
    expect(lines[1]).toBe('Error: --lake /nonexistent/lake: no such folder, so no lake there');
    expect(loud.err).toMatch(/\ncaused by: Error: ENOENT: no such file or directory, stat '\/nonexistent\/lake'\n/);
  });
});
