import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auroraRecords, CLUSTER_ID } from '../../fixtures/das/sample-records.js';
import { startDasKms } from '../support/das-kms.js';
import type { KmsServer } from '../support/kms-server.js';
import { tempLake } from '../support/lake.js';

/**
 * Runs the CLI in a child process (the test's KMS endpoint and credentials in its environment), without
 * blocking this process: the KMS endpoint it calls runs here.
 */
function auditlake(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('node', ['bin/auditlake.js', ...args], { encoding: 'utf8', env: process.env }, (error, out, err) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, out, err });
    });
  });
}

interface Outcomes {
  read: number;
  written: number;
  quarantined: number;
  skipped: number;
}

function addsUp(o: Outcomes): void {
  expect(o.written + o.quarantined + o.skipped).toBe(o.read);
}

/** What the DAS fixture holds, counted from the records it was generated from. */
function auroraCounts(): { records: Outcomes; events: Outcomes } {
  const lists = auroraRecords().map((r) => (r.record as { databaseActivityEventList: { type: string }[] }).databaseActivityEventList);
  const beats = (l: { type: string }[]) => l.filter((e) => e.type === 'heartbeat').length;
  const withEvents = lists.filter((l) => l.length > beats(l)).length;
  const events = lists.reduce((n, l) => n + l.length - beats(l), 0);
  const heartbeats = lists.reduce((n, l) => n + beats(l), 0);
  return {
    records: { read: lists.length, written: withEvents, quarantined: 0, skipped: lists.length - withEvents },
    events: { read: events + heartbeats, written: events, quarantined: 0, skipped: heartbeats },
  };
}

describe('ingest summary: records and events each add up', () => {
  let kms: KmsServer;
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeAll(async () => {
    kms = await startDasKms();
  });
  afterAll(() => kms.stop());
  beforeEach(async () => {
    lake = await tempLake();
  });
  afterEach(() => lake.cleanup());

  it('counts DAS records (several events each) apart from their events', async () => {
    const r = await auditlake('ingest', 'fixtures/das/aurora-pg.jsonl', '--das-resource-id', CLUSTER_ID, '--out', lake.dir, '--json');
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out);
    const expected = auroraCounts();
    // 6 records: 5 gave events, one held only heartbeats; 22 events in them: 18 written, 4 heartbeats.
    expect(s.record_counts).toEqual(expected.records);
    expect(s.record_counts).toEqual({ read: 6, written: 5, quarantined: 0, skipped: 1 });
    expect(s.event_counts).toEqual(expected.events);
    expect(s.event_counts).toEqual({ read: 22, written: 18, quarantined: 0, skipped: 4 });
    // The flat fields keep their meaning: records read, events written, quarantined, skipped by reason.
    expect(s).toMatchObject({ records: 6, events: 18, quarantined: 0, skipped: { heartbeat: 4 } });
    expect(s.inputs[0].record_counts).toEqual(s.record_counts);
  });

  it('counts a record rejected whole once at both levels', async () => {
    const r = await auditlake('ingest', 'fixtures/das/bad-records.jsonl', '--das-resource-id', CLUSTER_ID, '--out', lake.dir, '--json');
    const s = JSON.parse(r.out);
    // 13 records: 2 good ones (6 events and 2 heartbeats in them), 11 that cannot be read.
    expect(s.record_counts).toEqual({ read: 13, written: 2, quarantined: 11, skipped: 0 });
    expect(s.event_counts).toEqual({ read: 19, written: 6, quarantined: 11, skipped: 2 });
  });

  it('adds up in the demo run (pgAudit, DAS and proxy inputs), in JSON and in the printed summary', async () => {
    const inputs = ['fixtures/pgaudit/pg15.csv', 'fixtures/das/aurora-pg.jsonl', 'fixtures/proxy/sessions.jsonl'];
    const common = ['--das-resource-id', CLUSTER_ID, '--rules', 'builtin'];
    const s = JSON.parse((await auditlake('ingest', ...inputs, ...common, '--out', join(lake.dir, 'a'), '--json')).out);
    addsUp(s.record_counts);
    addsUp(s.event_counts);
    for (const input of s.inputs) {
      addsUp(input.record_counts);
      addsUp(input.event_counts);
    }
    const das = auroraCounts();
    // pgAudit and the proxy: one record, one event; DAS: several events a record.
    expect(s.record_counts).toEqual({ read: 152 + 6 + 20, written: 111 + 5 + 20, quarantined: 0, skipped: 41 + 1 });
    expect(s.event_counts).toEqual({ read: 152 + das.events.read + 20, written: 111 + 18 + 20, quarantined: 0, skipped: 41 + 4 });
    expect(s.records).toBe(s.record_counts.read);
    expect(s.events).toBe(s.event_counts.written);
    expect(s.quarantined).toBe(s.event_counts.quarantined);
    expect(Object.values(s.skipped as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(s.event_counts.skipped);

    const human = (await auditlake('ingest', ...inputs, ...common, '--out', join(lake.dir, 'b'))).out;
    expect(human).toContain('records read: 178 = 136 with events written + 0 quarantined + 42 skipped on purpose\n');
    expect(human).toContain('events read:  194 = 149 written + 0 quarantined + 45 skipped on purpose\n');
  }, 60_000);
});
