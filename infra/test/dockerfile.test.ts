import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS, runCli } from '../../src/cli/main.js';
import { PROXY_CONTAINER_PORT } from '../lib/proxy-service.js';

/**
 * Docker cannot build here, so the Dockerfile's promises are checked as text: a multi-stage build on
 * glibc Debian (DuckDB has no musl build), a non-root runtime with a health check and SIGTERM, only
 * the running parts copied, and an entry point that runs a command the CLI has.
 */

const lines = readFileSync('Dockerfile', 'utf8')
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const instructions = lines.map((l) => {
  const [keyword, ...rest] = l.split(/\s+/);
  return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
});
const stages = instructions.reduce<(typeof instructions)[]>((acc, i) => {
  if (i.keyword === 'FROM') acc.push([]);
  acc.at(-1)?.push(i);
  return acc;
}, []);
const runtime = stages.at(-1) ?? [];
const one = (keyword: string) => runtime.filter((i) => i.keyword === keyword).map((i) => i.args);

describe('Dockerfile', () => {
  it('builds in one stage and runs in another, both on Debian slim Node 22, never Alpine', () => {
    const froms = instructions.filter((i) => i.keyword === 'FROM').map((i) => i.args);
    expect(froms).toEqual(['node:22-bookworm-slim AS build', 'node:22-bookworm-slim AS runtime']);
    expect(readFileSync('Dockerfile', 'utf8')).not.toMatch(/FROM\s+\S*alpine/i);
    const build = stages[0].map((i) => i.args).join('\n');
    expect(build).toMatch(/npm ci --ignore-scripts/);
    expect(build).toMatch(/npm run build && npm prune --omit=dev/);
  });

  it('runs as the node user with a health check and SIGTERM', () => {
    expect(one('USER')).toEqual(['node']);
    expect(one('WORKDIR')).toEqual(['/app']);
    expect(one('STOPSIGNAL')).toEqual(['SIGTERM']);
    const [health] = one('HEALTHCHECK');
    expect(health).toMatch(/CMD \["node", "-e", .*AUDITLAKE_HEALTH_PORT.*6432/);
    expect(one('EXPOSE')).toEqual([String(PROXY_CONTAINER_PORT)]);
  });

  it('copies only what runs, all of which exists, and no host node_modules', () => {
    const copies = one('COPY').map((c) => c.replace(/--\S+\s+/g, ''));
    const fromContext = copies.filter((c) => !c.includes('/app/')).map((c) => c.split(/\s+/)[0]);
    expect(fromContext.sort()).toEqual(['package.json', 'rules', 'schemas']);
    for (const path of fromContext) expect(existsSync(path), path).toBe(true);
    expect(one('COPY').some((c) => c.startsWith('--from=build') && c.includes('/app/node_modules'))).toBe(true);
    expect(one('COPY').some((c) => c.startsWith('--from=build') && c.includes('/app/dist'))).toBe(true);
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n');
    for (const path of ['node_modules', 'dist', '.git', 'infra']) expect(ignored).toContain(path);
  });

  it('leaves the app files to root (read-only to the runtime user) and ships the RDS CA bundle', () => {
    for (const c of one('COPY')) expect(c).toMatch(/--chown=root:root/);
    expect(one('ADD')).toEqual([
      '--chown=root:root --chmod=644 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /app/certs/rds-global-bundle.pem',
    ]);
  });

  it('enters the CLI, and its default command is one the CLI runs', async () => {
    expect(JSON.parse(one('ENTRYPOINT')[0])).toEqual(['node', 'dist/cli/bin.js']);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).bin.auditlake).toBe('dist/cli/bin.js');
    const cmd = JSON.parse(one('CMD')[0]) as string[];
    expect(cmd.slice(0, 3)).toEqual(['proxy', '--listen', `0.0.0.0:${PROXY_CONTAINER_PORT}`]);
    expect(COMMANDS.map((c) => c.name)).toContain(cmd[0]);
    // The same arguments parse (with --help the command stops before doing anything).
    let out = '';
    const code = await runCli([...cmd, '--help'], { out: (t) => (out += t), err: () => {}, tty: false });
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: auditlake proxy/);
  });
});
