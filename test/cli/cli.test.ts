import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/main.js';
import { cli } from '../support/cli.js';
import { tempLake } from '../support/lake.js';

describe('auditlake CLI', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    lake = await tempLake();
  });
  afterEach(() => lake.cleanup());

  it('lists its commands, and every command has --help', async () => {
    const main = await cli('--help');
    expect(main.code).toBe(0);
    for (const c of COMMANDS) {
      expect(main.out).toContain(c.name);
      const help = await cli(c.name, '--help');
      expect(help.code).toBe(0);
      expect(help.out).toMatch(/^Usage: auditlake /);
    }
  });

  it('exits 2 with a pointer to --help on a usage mistake', async () => {
    expect((await cli('nope')).code).toBe(2);
    const bad = await cli('ingest', 'x.csv', '--out', lake.dir, '--format', 'xml');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--format xml');
    expect(bad.err).toContain('auditlake ingest --help');
    expect((await cli('ingest', 'x.csv', '--bogus')).code).toBe(2);
    expect((await cli('ingest', 'x.csv')).err).toContain('--out <dir> is required');
  });

  it('ingests with a JSON summary that adds up, and exits 1 naming an input it cannot open', async () => {
    const run = await cli('ingest', 'fixtures/pgaudit/pg15.csv', 'fixtures/pgaudit/missing.csv', '--out', lake.dir, '--json');
    expect(run.code).toBe(1);
    const summary = JSON.parse(run.out);
    expect(summary.inputs[1]).toMatchObject({
      input: 'fixtures/pgaudit/missing.csv',
      error: 'cannot open fixtures/pgaudit/missing.csv: no such file',
    });
    const skipped = Object.values(summary.skipped as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(summary.events + summary.quarantined + skipped).toBe(summary.records);
    expect(summary.events).toBe(111);
    expect(summary.events_by_source.pgaudit.AUTH_FAILURE).toBe(5);
  });

  it('prints query results as a table, JSON or CSV', async () => {
    await cli('ingest', 'fixtures/pgaudit/pg15.json', '--out', lake.dir);
    const sql = "SELECT db_user, count(*) AS n FROM audit_events WHERE event_class = 'AUTH_FAILURE' GROUP BY 1 ORDER BY 1";
    expect((await cli('query', '--lake', lake.dir, '--format', 'csv', sql)).out).toBe('db_user,n\napp_user,2\nghost,2\nintruder,1\n');
    expect(JSON.parse((await cli('query', '--lake', lake.dir, '--format', 'json', sql)).out)).toEqual([
      { db_user: 'app_user', n: '2' },
      { db_user: 'ghost', n: '2' },
      { db_user: 'intruder', n: '1' },
    ]);
    expect((await cli('query', '--lake', lake.dir, sql)).out).toContain('(3 rows)');
    const bad = await cli('query', '--lake', lake.dir, 'SELECT nope FROM audit_events');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('nope');
  });

  it('answers queries on an empty lake with no rows rather than an error', async () => {
    const r = await cli('query', '--lake', lake.dir, '--format', 'json', 'SELECT count(*) AS n FROM audit_events');
    expect(JSON.parse(r.out)).toEqual([{ n: '0' }]);
  });

  it('tells a busy listen port (exit 1) from a wrong option (exit 2) for the proxy', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const taken = await cli('proxy', '--listen', `127.0.0.1:${port}`, '--upstream', '127.0.0.1:5432', '--events', lake.dir);
      expect(taken.code).toBe(1);
      expect(taken.err).toContain('EADDRINUSE');
      const wrong = await cli('proxy', '--listen', 'nowhere', '--upstream', '127.0.0.1:5432', '--events', lake.dir);
      expect(wrong.code).toBe(2);
      expect(wrong.err).toContain('listen: expected host:port');
    } finally {
      busy.close();
    }
  });

  it('has a README command reference in step with every command and option', async () => {
    const readme = await readFile('README.md', 'utf8');
    for (const c of COMMANDS) {
      expect(readme, c.name).toContain(`auditlake ${c.name}`);
      for (const option of c.help.match(/--[a-z][a-z-]+/g) ?? []) {
        if (option !== '--help') expect(readme, `${c.name} ${option}`).toContain(option);
      }
    }
  });
});
