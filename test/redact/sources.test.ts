/** The redaction stage on the other sources: pgAudit logs of a live PostgreSQL 15, and DAS records. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { mapDasRecord } from '../../src/collectors/das/map-event.js';
import { createSqlRedactor, redactBatch } from '../../src/redact/index.js';
import { newBatch } from '../../src/schema/index.js';
import { ingestInto, tempLake } from '../support/lake.js';
import { type PgServer, startPgServer } from '../support/postgres.js';

const SECRETS = ['Fa1lingPw', 'Mult1Pw', 'Alt3rPw', 'Scr4mPw'];

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}

describe('redaction of pgAudit logs from a live server', () => {
  let server: PgServer;
  let lake: Awaited<ReturnType<typeof tempLake>>;

  beforeAll(async () => {
    server = await startPgServer();
    lake = await tempLake();
    await server.psql("CREATE ROLE dave LOGIN PASSWORD 'x';");
    // Fails (dave exists): pgAudit does not log it, the server's ERROR/STATEMENT lines hold it in clear.
    await server.psql("CREATE ROLE dave PASSWORD 'Fa1lingPw';");
    // One query string, two statements: pgAudit logs the whole string with each AUDIT line.
    await server.psql("SET application_name = 'x'; CREATE ROLE erin PASSWORD 'Mult1Pw'", { mode: 'command' });
    await server.psql("ALTER ROLE dave ENCRYPTED PASSWORD 'Alt3rPw' VALID UNTIL '2099-01-01';");
    await server.psql("ALTER ROLE erin PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$Scr4mPw:xyz';");
    await server.flushLogs();
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await lake?.cleanup();
  });

  it('the logs hold secrets; nothing in the lake does, and the statements read as pgAudit writes them', async () => {
    const logs = await server.logFiles();
    const paths = [logs.csvlog, logs.jsonlog, logs.stderr].filter((p): p is string => Boolean(p));
    const raw = (await Promise.all(paths.map((p) => readFile(p, 'utf8')))).join('\n');
    expect(raw).toContain('Fa1lingPw'); // the source leaks: the stage is what stops it
    expect(raw).toContain('Mult1Pw');
    await ingestInto(lake.dir, paths);
    for (const f of await filesUnder(lake.dir)) {
      const bytes = await readFile(f);
      for (const s of SECRETS) expect(bytes.includes(s), `${f} holds ${s}`).toBe(false);
    }
    let out = '';
    const code = await runCli(
      [
        'query',
        '--lake',
        lake.dir,
        '--format',
        'json',
        "SELECT DISTINCT statement_text FROM audit_events WHERE statement_text ILIKE '%password%'",
      ],
      { out: (t) => (out += t), err: () => {}, tty: false },
    );
    expect(code).toBe(0);
    const texts = (JSON.parse(out) as { statement_text: string }[]).map((r) => r.statement_text).sort();
    expect(texts).toEqual([
      // pgAudit's own redaction of the statements that succeeded: it cuts everything after PASSWORD.
      'ALTER ROLE dave ENCRYPTED PASSWORD <REDACTED>',
      'ALTER ROLE erin PASSWORD <REDACTED>',
      'CREATE ROLE dave LOGIN PASSWORD <REDACTED>',
      // The failed statement from the ERROR line's STATEMENT, which pgAudit never sees.
      'CREATE ROLE dave PASSWORD <REDACTED>;',
      // The SET's AUDIT line repeats the whole string, which pgAudit does not redact.
      "SET application_name = 'x'; CREATE ROLE erin PASSWORD <REDACTED>",
    ]);
    for (const t of texts) for (const s of SECRETS) expect(t).not.toContain(s);
  });
});

describe('redaction of DAS records', () => {
  const unit = { key: 'k'.repeat(20), ref: 'aws-rds-das-cluster-X/shardId-000000000000/495', ingestTime: 1_714_600_000_000_000 };
  const event = (fields: Record<string, unknown>) => ({
    type: 'record',
    class: 'ROLE',
    command: 'ALTER ROLE',
    logTime: '2019-10-30 00:39:49.990579+00',
    statementId: 1,
    substatementId: 1,
    databaseName: 'appdb',
    dbUserName: 'app_user',
    remoteHost: '10.0.1.25',
    remotePort: '49804',
    sessionId: '5ce5f7f0.474b',
    pid: 18251,
    paramList: [],
    exitCode: null,
    ...fields,
  });

  it('redacts commandText of events and of quarantined events, decrypted record and all', () => {
    const batch = newBatch();
    mapDasRecord(
      {
        type: 'DatabaseActivityMonitoringRecord',
        clusterId: 'cluster-X',
        instanceId: 'db-Y',
        databaseActivityEventList: [
          event({ commandText: "ALTER ROLE bob PASSWORD 'D4sPw'" }),
          event({ commandText: "CREATE ROLE eve PASSWORD E'D4s\\'Bad'", logTime: 'not a time' }),
        ],
      },
      unit,
      { excludeUsers: new Set() },
      batch,
    );
    expect(batch.rejected).toHaveLength(1);
    expect(JSON.stringify(batch)).toContain('D4sPw');
    redactBatch(batch, createSqlRedactor());
    expect(batch.events[0].statement_text).toBe('ALTER ROLE bob PASSWORD <REDACTED>');
    expect(JSON.stringify(batch)).not.toMatch(/D4s/);
    expect(JSON.parse(batch.rejected[0].raw).commandText).toBe('CREATE ROLE eve PASSWORD <REDACTED>');
  });
});
