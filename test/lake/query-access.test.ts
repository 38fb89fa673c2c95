import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryLake } from '../../src/cli/commands/query.js';
import { openProxyEventsWriter } from '../../src/collectors/proxy-events/index.js';
import { FsStorage } from '../../src/lake/fs-storage.js';
import { type AuditEvent, newBatch } from '../../src/schema/index.js';
import { ingestInto } from '../support/lake.js';

function sampleEvent(): AuditEvent {
  return {
    event_id: 'e1',
    schema_version: 1,
    event_time: 1_700_000_000_000_000,
    ingest_time: 1_700_000_000_000_000,
    source_format: 'proxy',
    source_ref: 'proxy:x/1:1',
    cluster_id: null,
    instance_id: null,
    server_host: null,
    session_id: 's',
    process_id: null,
    database_name: null,
    db_user: null,
    client_addr: null,
    client_port: null,
    application_name: null,
    event_class: 'READ',
    command: 'SELECT',
    object_type: null,
    object_name: null,
    statement_text: 'select 1',
    parameters: null,
    statement_id: null,
    substatement_id: null,
    transaction_id: null,
    success: true,
    row_count: null,
    error_code: null,
    error_message: null,
    duration_ms: null,
    audit_type: null,
    raw_extras: null,
    source: 'proxy',
  } as AuditEvent;
}

/** `auditlake query`: the SQL reaches the lake's files only, and a lake path is never a glob. */
describe('query access', () => {
  let dir: string;
  let lake: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auditlake-query-access-'));
    lake = join(dir, 'lake[ab]');
    await mkdir(lake);
    const other = join(dir, 'lakea'); // what the glob lake[ab] would match
    await ingestInto(lake, ['fixtures/pgaudit/pg15.csv']);
    await ingestInto(other, ['fixtures/pgaudit/pg15.csv', 'fixtures/pgaudit/pg15.json']);
  }, 60_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the folder named, not what its path matches as a glob', async () => {
    const own = await queryLake(lake, 'SELECT source_format, count(*) AS n FROM audit_events GROUP BY ALL');
    expect(own.rows.map((r) => r.source_format)).toEqual(['csvlog']);
  });

  it('refuses other files, writes and configuration changes unless --allow-external-access', async () => {
    await expect(queryLake(lake, "SELECT * FROM read_csv('/etc/hostname')")).rejects.toThrow(/disabled|Permission/i);
    await expect(queryLake(lake, `COPY (SELECT 1) TO '${join(dir, 'x.csv')}'`)).rejects.toThrow(/disabled|Permission/i);
    await expect(queryLake(lake, 'SET enable_external_access = true')).rejects.toThrow(/Cannot change configuration/);
    const open = await queryLake(lake, "SELECT count(*) AS n FROM read_csv('/etc/hostname', header = false)", {
      allowExternalAccess: true,
    });
    expect(Number(open.rows[0].n)).toBeGreaterThan(0);
  });

  it('creates lake, quarantine and proxy JSONL files 0600 (folders 0700), or the --file-mode asked for', async () => {
    const modes = new Set<string>();
    for (const e of await readdir(lake, { recursive: true, withFileTypes: true })) {
      const m = (await stat(join(e.parentPath, e.name))).mode & 0o777;
      modes.add(`${e.isDirectory() ? 'd' : 'f'}${m.toString(8)}`);
    }
    expect([...modes].filter((m) => m.startsWith('f'))).toEqual(['f600']);
    expect(modes.has('d700')).toBe(true);
    const writer = await openProxyEventsWriter({ dir: join(dir, 'jsonl') });
    const batch = newBatch();
    batch.events.push({ ...sampleEvent() });
    await writer.write(batch);
    await writer.close();
    expect((await stat(writer.files[0])).mode & 0o777).toBe(0o600);
    const shared = new FsStorage(join(dir, 'shared'));
    shared.fileMode = 0o640;
    await shared.putBytes('a/b.txt', 'x');
    expect((await stat(join(dir, 'shared/a/b.txt'))).mode & 0o777).toBe(0o640);
  });

  it('works on an empty lake', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    expect((await queryLake(empty, 'SELECT count(*) AS n FROM audit_events')).rows[0].n).toBe('0');
  });
});
