import { describe, expect, it } from 'vitest';
import { eventClassOf, mapDasRecord, SKIP } from '../../src/collectors/das/map-event.js';
import { type Batch, checkEvent, formatMicros, newBatch } from '../../src/schema/index.js';

const unit = { key: 'k'.repeat(20), ref: 'aws-rds-das-cluster-X/shardId-000000000000/495', ingestTime: 1_714_600_000_000_000 };
const noFilters = { excludeUsers: new Set<string>() };

function base(fields: Record<string, unknown>) {
  return {
    type: 'record',
    class: 'READ',
    command: 'SELECT',
    commandText: 'select 1',
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
  };
}

function map(events: unknown[], filters = noFilters): Batch {
  const batch = newBatch();
  mapDasRecord(
    { type: 'DatabaseActivityMonitoringRecord', clusterId: 'cluster-X', instanceId: 'db-Y', databaseActivityEventList: events },
    unit,
    filters,
    batch,
  );
  return batch;
}

function one(fields: Record<string, unknown>) {
  const batch = map([base(fields)]);
  expect(batch.rejected).toEqual([]);
  expect(batch.events).toHaveLength(1);
  expect(checkEvent(batch.events[0])).toBeNull();
  return batch.events[0];
}

describe('DAS event mapping', () => {
  it('keeps microseconds of logTime and derives the duration from startTime', () => {
    const e = one({ startTime: '2019-10-30 00:39:49.980000+00' });
    expect(formatMicros(e.event_time)).toBe('2019-10-30T00:39:49.990579Z');
    expect(e.duration_ms).toBeCloseTo(10.579, 9);
  });

  it('maps session, origin and statement fields', () => {
    const e = one({
      transactionId: '987654321',
      rowCount: 3,
      paramList: ['a', null, 7],
      serverHost: '10.0.2.17',
      objectType: 'TABLE',
      objectName: 'public.t',
    });
    expect(e).toMatchObject({
      // From the session and statement identity, not the Kinesis record: a re-sent record keeps it.
      event_id: expect.stringMatching(/^[0-9a-f]{20}000000000000$/),
      source: 'das',
      source_format: 'das',
      source_ref: `${unit.ref}#0`,
      cluster_id: 'cluster-X',
      instance_id: 'db-Y',
      server_host: '10.0.2.17',
      session_id: '5ce5f7f0.474b',
      process_id: 18251,
      client_addr: '10.0.1.25',
      client_port: 49804,
      transaction_id: 987654321,
      row_count: 3,
      parameters: ['a', '', '7'],
      object_type: 'TABLE',
      object_name: 'public.t',
      statement_id: 1,
      substatement_id: 1,
      success: true,
      error_code: null,
    });
  });

  it('maps each statement class to the same class', () => {
    for (const cls of ['READ', 'WRITE', 'DDL', 'ROLE', 'FUNCTION', 'MISC']) expect(one({ class: cls, command: 'X' }).event_class).toBe(cls);
    expect(one({ class: 'NONE' }).event_class).toBe('MISC');
  });

  it('maps CONNECT and DISCONNECT, also in the old MISC form', () => {
    expect(one({ class: 'CONNECT', command: 'CONNECT' }).event_class).toBe('CONNECT');
    expect(one({ class: 'MISC', command: 'CONNECT' }).event_class).toBe('CONNECT');
    expect(one({ class: 'CONNECT', command: 'DISCONNECT', exitCode: 0 }).event_class).toBe('DISCONNECT');
  });

  it('classifies failed logins by content, keeping the original command', () => {
    const byState = one({
      class: 'CONNECT',
      command: 'CONNECT',
      exitCode: '28P01',
      errorMessage: 'FATAL: password authentication failed for user "x"',
    });
    expect(byState).toMatchObject({ event_class: 'AUTH_FAILURE', command: 'CONNECT', success: false, error_code: '28P01' });
    expect(one({ class: 'CONNECT', command: 'LOGIN FAILED', errorMessage: 'FATAL: no pg_hba.conf entry' })).toMatchObject({
      event_class: 'AUTH_FAILURE',
      command: 'LOGIN FAILED',
      error_code: null,
    });
    expect(one({ class: 'CONNECT', command: 'CONNECT', exitCode: '3D000' }).event_class).toBe('AUTH_FAILURE');
    expect(one({ class: 'MISC', command: 'AUTHENTICATION', exitCode: 28000 })).toMatchObject({
      event_class: 'AUTH_FAILURE',
      error_code: '28000',
    });
    // An administrator ending a session is a failed DISCONNECT, not a failed login.
    expect(
      one({ class: 'CONNECT', command: 'DISCONNECT', exitCode: '57P01', errorMessage: 'FATAL: terminating connection' }).event_class,
    ).toBe('DISCONNECT');
    expect(eventClassOf('CONNECT', 'DISCONNECT', '28000', null)).toBe('AUTH_FAILURE');
  });

  it('keeps the class of a failed statement, with its error', () => {
    const e = one({ exitCode: '42P01', errorMessage: 'ERROR: relation "t" does not exist' });
    expect(e).toMatchObject({
      event_class: 'READ',
      success: false,
      error_code: '42P01',
      error_message: 'ERROR: relation "t" does not exist',
    });
    expect(one({ exitCode: 8006 }).error_code).toBe('08006');
    expect(one({ exitCode: 0 }).error_code).toBeNull();
  });

  it('handles the fields of each record version', () => {
    const v10 = one({});
    expect(v10.duration_ms).toBeNull();
    const v12 = one({ startTime: null, errorMessage: null, endTime: '2019-10-30 00:39:49.990600+00', transactionId: 12 });
    expect(v12.transaction_id).toBe(12);
    expect(JSON.parse(v12.raw_extras ?? '{}')).toEqual({ endTime: '2019-10-30 00:39:49.990600+00' });
  });

  it('keeps unmapped, unknown and unfitting fields in raw_extras', () => {
    const e = one({
      serverType: 'PostgreSQL',
      serverVersion: '15.4',
      serviceName: 'Aurora',
      dbProtocol: 'Postgres 3.0',
      netProtocol: 'TCP',
      newField: { a: 1 },
      remotePort: 'x',
      pid: 'p',
    });
    expect(JSON.parse(e.raw_extras ?? '{}')).toEqual({
      serverType: 'PostgreSQL',
      serverVersion: '15.4',
      serviceName: 'Aurora',
      dbProtocol: 'Postgres 3.0',
      netProtocol: 'TCP',
      newField: { a: 1 },
      remotePort: 'x',
      pid: 'p',
    });
    expect(e.client_port).toBeNull();
    expect(one({}).raw_extras).toBeNull();
  });

  it('counts heartbeats and filtered events as skipped, and rejects malformed events alone', () => {
    const batch = map(
      [
        { type: 'heartbeat' },
        base({ dbUserName: 'rdsadmin' }),
        base({ databaseName: 'other' }),
        base({ logTime: 'yesterday' }),
        'x',
        base({}),
      ],
      { excludeUsers: new Set(['rdsadmin']), databases: new Set(['appdb']) } as never,
    );
    expect(batch.skipped).toEqual({ [SKIP.heartbeat]: 1, [SKIP.excludedUser]: 1, [SKIP.databaseFilter]: 1 });
    expect(batch.rejected.map((r) => r.source_ref)).toEqual([`${unit.ref}#3`, `${unit.ref}#4`]);
    expect(batch.rejected[0].reason).toMatch(/logTime/);
    expect(batch.events.map((e) => e.event_id)).toEqual([expect.stringMatching(/^[0-9a-f]{20}000000000005$/)]);
  });

  it('keeps only allow-listed users', () => {
    const batch = map([base({ dbUserName: 'a' }), base({ dbUserName: 'b' })], { excludeUsers: new Set(), users: new Set(['b']) } as never);
    expect(batch.events.map((e) => e.db_user)).toEqual(['b']);
    expect(batch.skipped).toEqual({ [SKIP.userFilter]: 1 });
  });

  it('rejects a record that is not an activity record', () => {
    const batch = newBatch();
    mapDasRecord({ type: 'Other' }, unit, noFilters, batch);
    mapDasRecord([1], unit, noFilters, batch);
    expect(batch.rejected.map((r) => r.reason)).toEqual(['unknown decrypted record type "Other"', 'decrypted record is not a JSON object']);
  });
});
