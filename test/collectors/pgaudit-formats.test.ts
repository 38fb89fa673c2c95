import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/schema/index.js';
import { collectFile } from '../support/collect.js';
import { FIXTURE } from './pgaudit/collect-bytes.js';

/**
 * One server wrote the same activity as csvlog, jsonlog and stderr at once; CloudWatch carries the
 * stderr lines. Every format must give the same events, except for what a format does not carry
 * (stderr: no milliseconds, no SQLSTATE of ERROR lines, no session id or application name).
 */
const { controlMessage: _, ...FORMATS } = FIXTURE;

function common(e: AuditEvent) {
  return {
    second: Math.floor(e.event_time / 1_000_000),
    event_class: e.event_class,
    command: e.event_class === 'ERROR' ? null : e.command,
    object_type: e.object_type,
    object_name: e.object_name,
    statement_text: e.event_class === 'ERROR' ? null : e.statement_text,
    parameters: e.parameters,
    statement_id: e.statement_id,
    substatement_id: e.substatement_id,
    row_count: e.row_count,
    audit_type: e.audit_type,
    db_user: e.db_user,
    database_name: e.database_name,
    client_addr: e.client_addr,
    client_port: e.client_port,
    process_id: e.process_id,
    success: e.success,
    error_code: e.event_class === 'ERROR' ? null : e.error_code,
    error_message: e.error_message,
    duration_ms: e.duration_ms,
  };
}

interface Workload {
  sessions: { user: string; statements: { sql: string; audit: { type: string; class: string; command: string }[] }[] }[];
}

function tally(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[i] = (out[i] ?? 0) + 1;
  return out;
}

describe('pgaudit formats agree', () => {
  const events: Record<string, AuditEvent[]> = {};
  beforeAll(async () => {
    for (const [name, path] of Object.entries(FORMATS)) events[name] = (await collectFile(path)).events;
  });

  it('every format yields the same events as csvlog', () => {
    const reference = events.csvlog.map(common);
    for (const name of Object.keys(FORMATS)) expect(events[name].map(common), name).toEqual(reference);
  });

  it('csvlog and jsonlog agree on what both carry, to the microsecond', () => {
    const pick = (e: AuditEvent) => [e.event_time, e.session_id, e.application_name, e.error_code, e.statement_text, e.transaction_id];
    expect(events.jsonlog.map(pick)).toEqual(events.csvlog.map(pick));
  });

  it('holds exactly the audit lines the workload was declared to produce', async () => {
    const workload: Workload = JSON.parse(await readFile('fixtures/pgaudit/pg15.workload.json', 'utf8'));
    const expected = workload.sessions.flatMap((s) =>
      s.statements.flatMap((st) => st.audit.map((a) => `${s.user} ${a.type} ${a.class} ${a.command}`)),
    );
    const audited = events.csvlog.filter((e) => e.audit_type !== null);
    const actual = audited.map((e) => `${e.db_user} ${e.audit_type} ${e.event_class} ${e.command}`);
    // pgAudit prints MISC_SET as MISC; the workload names what the log says.
    expect(tally(actual)).toEqual(tally(expected.map((x) => x.replace(' MISC_SET ', ' MISC '))));
  });

  it('recognizes every failed login with its SQLSTATE and user', () => {
    for (const name of Object.keys(FORMATS)) {
      const failures = events[name].filter((e) => e.event_class === 'AUTH_FAILURE').map((e) => `${e.db_user}/${e.error_code}/${e.success}`);
      expect(failures.sort(), name).toEqual([
        'app_user/28P01/false',
        'app_user/3D000/false',
        'ghost/28000/false',
        'ghost/28P01/false',
        'intruder/28000/false',
      ]);
    }
  });
});
