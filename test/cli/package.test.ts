import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as users get it: `npm pack` (prepack compiles dist/), installed into an empty prefix with
 * --omit=dev (dependencies from npm's cache where it has them), run from its bin with no tsx and no checkout.
 */
describe('the packed package, installed with --omit=dev', () => {
  let dir: string;
  let bin: string;
  const run = (...args: string[]) => execFileSync(bin, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auditlake-pack-'));
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
    );
    const tarball = join(dir, packed.filename);
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        join(dir, 'prefix'),
        '--omit=dev',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        tarball,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    bin = join(dir, 'prefix/node_modules/.bin/auditlake');
  }, 900_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('ships compiled JavaScript and the built-in rules, and no TypeScript sources or dev tools', async () => {
    const installed = join(dir, 'prefix/node_modules');
    const manifest = JSON.parse(await readFile(join(installed, 'auditlake/package.json'), 'utf8'));
    expect(manifest.bin.auditlake).toBe('dist/cli/bin.js');
    const files = execFileSync('find', ['.', '-name', '*.ts', '-not', '-name', '*.d.ts'], {
      cwd: join(installed, 'auditlake'),
      encoding: 'utf8',
    });
    expect(files.trim()).toBe('');
    // pg stays: `auditlake policy members` reads pg_auth_members with it.
    for (const dev of ['tsx', 'csv-parse', 'typescript', 'esbuild', 'vitest'])
      expect(() => execFileSync('test', ['!', '-e', join(installed, dev)])).not.toThrow();
    expect(run('--version')).toBe(
      `auditlake ${manifest.version} (node ${process.versions.node}, duckdb ${/duckdb (v[\d.]+)/.exec(run('-V'))?.[1]})\n`,
    );
  });

  it('runs ingest, query and rules test builtin from the installed bin', async () => {
    const fixture = join(process.cwd(), 'fixtures/pgaudit/pg15.csv');
    const summary = JSON.parse(run('ingest', fixture, '--out', 'lake', '--rules', 'builtin', '--json'));
    expect(summary).toMatchObject({ events: 111, failed_inputs: 0 });
    expect(summary.alerts).toBeGreaterThan(0);
    expect(
      run('query', '--lake', 'lake', '--format', 'csv', "SELECT count(*) AS n FROM audit_events WHERE event_class = 'AUTH_FAILURE'"),
    ).toBe('n\n5\n');
    expect(run('rules', 'test', 'builtin')).toMatch(/\n\d+ passed, 0 failed \(\d+ rules\)\n$/);
  });
});
