/**
 * Maps a decrypted `DatabaseActivityMonitoringRecord` (formats.md 1.3–1.7) to {@link AuditEvent}s.
 *
 * Parsing is tolerant, because AWS adds fields over versions: every field without a column (and any value
 * that does not fit its column) goes to `raw_extras`, so nothing the record said is lost.
 */
import {
  type AuditEvent,
  type Batch,
  type EventClass,
  eventId,
  idKey,
  NO_POLICY_IDS,
  parseTimestampMicros,
  rejected,
  SCHEMA_VERSION,
  skip,
} from '../../schema/index.js';

/** The `type` of a decrypted DAS record. */
export const RECORD_TYPE = 'DatabaseActivityMonitoringRecord';

/** Which events to keep; the rest are counted under a `skipped` reason. */
export interface DasFilters {
  /** Users whose events are dropped (AWS samples drop `rdsadmin`, the RDS management role). */
  excludeUsers: ReadonlySet<string>;
  /** When set, only these users are kept. */
  users?: ReadonlySet<string>;
  /** When set, only these databases are kept. */
  databases?: ReadonlySet<string>;
}

/** Reasons under which events are counted in `Batch.skipped`. */
export const SKIP = {
  heartbeat: 'heartbeat',
  excludedUser: 'excluded user',
  userFilter: 'user not in allow-list',
  databaseFilter: 'database not in allow-list',
  emptyRecord: 'record without events',
} as const;

/** Where a decrypted record came from. */
export interface RecordUnit {
  /** Id key of the Kinesis record (see `idKey`); event ids are `eventId(key, index in the event list)`. */
  key: string;
  /** `source_ref` of the Kinesis record; each event adds `#<index>`. */
  ref: string;
  ingestTime: number;
}

/** Event fields that have a column (or are folded into one, like `startTime` into `duration_ms`). */
const MAPPED = new Set([
  'type',
  'class',
  'clientApplication',
  'command',
  'commandText',
  'databaseName',
  'dbUserName',
  'errorMessage',
  'exitCode',
  'logTime',
  'startTime',
  'objectName',
  'objectType',
  'paramList',
  'pid',
  'remoteHost',
  'remotePort',
  'rowCount',
  'serverHost',
  'sessionId',
  'statementId',
  'substatementId',
  'transactionId',
]);

const STATEMENT_CLASSES = new Set(['READ', 'WRITE', 'DDL', 'ROLE', 'FUNCTION', 'MISC']);

/** Marks a value that does not fit its column; the original goes to `raw_extras`. */
const UNFIT = Symbol('unfit');

type Json = Record<string, unknown>;

function text(v: unknown): string | null | typeof UNFIT {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return UNFIT;
}

/** Text where an empty string means "not given" (remoteHost of a local connection, clientApplication). */
function nonEmpty(v: unknown): string | null | typeof UNFIT {
  const t = text(v);
  return t === '' ? null : t;
}

function integer(v: unknown, max = Number.MAX_SAFE_INTEGER): number | null | typeof UNFIT {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : Number.NaN;
  return Number.isSafeInteger(n) && Math.abs(n) <= max ? n : UNFIT;
}

function stringList(v: unknown): string[] | null | typeof UNFIT {
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v)) return UNFIT;
  const out: string[] = [];
  for (const item of v) {
    // A NULL parameter becomes an empty slot, as pgAudit writes it.
    if (item === null) out.push('');
    else if (typeof item === 'string') out.push(item);
    else if (typeof item === 'number' || typeof item === 'boolean') out.push(String(item));
    else return UNFIT;
  }
  return out;
}

/** `exitCode` as SQLSTATE text; 0, `00000` and null mean success. Numeric codes keep their leading zeros. */
function sqlstate(v: unknown): string | null | typeof UNFIT {
  if (v === null || v === undefined || v === 0 || v === '' || v === '0' || v === '00000') return null;
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return String(v).padStart(5, '0');
  if (typeof v === 'string') return v;
  return UNFIT;
}

/** Whether a failed connect-class event is a failed login: SQLSTATE class 28 (authorization) or 3D000 (no such database). */
function isAuthError(code: string | null): boolean {
  return code !== null && (code.startsWith('28') || code === '3D000');
}

/**
 * The event class, by content (formats.md 1.6): the failed-login command is undocumented, so a connect-class
 * event (class CONNECT, or MISC in old records with a connection command) that failed is AUTH_FAILURE whatever
 * its command says. A DISCONNECT carrying an error message that is not an authorization SQLSTATE (e.g. the
 * session was terminated) stays a failed DISCONNECT.
 */
export function eventClassOf(cls: string, command: string, errorCode: string | null, errorMessage: string | null): EventClass {
  const connectish = cls === 'CONNECT' || (cls === 'MISC' && /CONNECT|AUTH|LOGIN|LOGON/.test(command));
  if (connectish) {
    const disconnect = command.includes('DISCONNECT');
    if (isAuthError(errorCode) || (errorMessage !== null && !disconnect)) return 'AUTH_FAILURE';
    return disconnect ? 'DISCONNECT' : 'CONNECT';
  }
  if (STATEMENT_CLASSES.has(cls)) return cls as EventClass;
  // ALL, NONE, or a class added later: keep the event, its original class stays in raw_extras.
  return 'MISC';
}

/**
 * The event's id. An activity event that names its session carries its own identity: the cluster, the
 * session, the statement and substatement ids and its log time, plus its position in the record's event
 * list; the id derives from those, so the same activity shipped twice (a re-sent Kinesis record, a
 * copy in another file) gets the same id. Anything else (heartbeats, events without a session) is
 * numbered within its Kinesis record.
 */
function dasEventId(item: Json, record: Json, unit: RecordUnit, index: number): string {
  const session = item.sessionId;
  if ((typeof session !== 'string' && typeof session !== 'number') || session === '') return eventId(unit.key, index);
  const cluster = typeof record.clusterId === 'string' ? record.clusterId : '';
  const part = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
  return eventId(idKey('das-event', cluster, session, part(item.statementId), part(item.substatementId), part(item.logTime)), index);
}

/** The statement's duration from its `startTime`; a start time that is not usable is kept in `extras`. */
function durationOf(startTime: unknown, eventTime: number, extras: Json): number | null {
  if (startTime === null || startTime === undefined) return null;
  const start = typeof startTime === 'string' ? parseTimestampMicros(startTime) : null;
  if (start !== null && start <= eventTime) return (eventTime - start) / 1000;
  extras.startTime = startTime;
  return null;
}

/** Keeps in `extras` the event's fields that have no column. */
function unmappedExtras(item: Json, extras: Json): void {
  for (const name of Object.keys(item)) {
    if (!MAPPED.has(name) && item[name] !== null && item[name] !== undefined) extras[name] = item[name];
  }
  if (item.type !== 'record' && item.type !== undefined) extras.type = item.type;
}

/** Keeps in `extras` what the record (around its events) holds beyond its cluster and instance ids. */
function recordExtras(record: Json, extras: Json): void {
  if (typeof record.clusterId !== 'string' && record.clusterId != null) extras.clusterId = record.clusterId;
  if (typeof record.instanceId !== 'string' && record.instanceId != null) extras.instanceId = record.instanceId;
  for (const name of Object.keys(record)) {
    if (name !== 'type' && name !== 'clusterId' && name !== 'instanceId' && name !== 'databaseActivityEventList') {
      extras[`record.${name}`] = record[name];
    }
  }
}

function mapEvent(item: Json, record: Json, unit: RecordUnit, index: number): AuditEvent | string {
  const logTimeText = item.logTime;
  const eventTime = typeof logTimeText === 'string' ? parseTimestampMicros(logTimeText) : null;
  if (eventTime === null) return `event has no valid logTime: ${JSON.stringify(logTimeText ?? null)}`;

  const extras: Json = {};
  const take = <T>(field: string, value: T | typeof UNFIT): T | null => {
    if (value === UNFIT) {
      extras[field] = item[field];
      return null;
    }
    return value;
  };

  const errorCode = take('exitCode', sqlstate(item.exitCode));
  const errorMessage = take('errorMessage', nonEmpty(item.errorMessage));
  const cls = typeof item.class === 'string' ? item.class.toUpperCase() : '';
  const command = take('command', nonEmpty(item.command));
  const eventClass = eventClassOf(cls, (command ?? '').toUpperCase(), errorCode, errorMessage);
  if (item.class !== eventClass && item.class !== undefined) extras.class = item.class;

  const durationMs = durationOf(item.startTime, eventTime, extras);
  unmappedExtras(item, extras);

  const event: AuditEvent = {
    event_id: dasEventId(item, record, unit, index),
    schema_version: SCHEMA_VERSION,
    event_time: eventTime,
    ingest_time: unit.ingestTime,
    source_format: 'das',
    source_ref: `${unit.ref}#${index}`,
    cluster_id: typeof record.clusterId === 'string' ? record.clusterId : null,
    instance_id: typeof record.instanceId === 'string' ? record.instanceId : null,
    server_host: take('serverHost', nonEmpty(item.serverHost)),
    session_id: take('sessionId', nonEmpty(item.sessionId)),
    process_id: take('pid', integer(item.pid, 2147483647)),
    database_name: take('databaseName', nonEmpty(item.databaseName)),
    db_user: take('dbUserName', nonEmpty(item.dbUserName)),
    client_addr: take('remoteHost', nonEmpty(item.remoteHost)),
    client_port: take('remotePort', integer(item.remotePort, 65535)),
    application_name: take('clientApplication', nonEmpty(item.clientApplication)),
    event_class: eventClass,
    command,
    object_type: take('objectType', nonEmpty(item.objectType)),
    object_name: take('objectName', nonEmpty(item.objectName)),
    statement_text: take('commandText', text(item.commandText)),
    parameters: take('paramList', stringList(item.paramList)),
    statement_id: take('statementId', integer(item.statementId)),
    substatement_id: take('substatementId', integer(item.substatementId)),
    transaction_id: take('transactionId', integer(item.transactionId)),
    success: errorCode === null && errorMessage === null,
    row_count: take('rowCount', integer(item.rowCount)),
    error_code: errorCode,
    error_message: errorMessage,
    duration_ms: durationMs,
    audit_type: null,
    raw_extras: null,
    policy_ids: NO_POLICY_IDS,
    source: 'das',
  };
  recordExtras(record, extras);
  for (const _ in extras) {
    event.raw_extras = JSON.stringify(extras);
    break;
  }
  return event;
}

function filteredOut(item: Json, filters: DasFilters): string | null {
  const user = typeof item.dbUserName === 'string' ? item.dbUserName : '';
  if (filters.excludeUsers.has(user)) return SKIP.excludedUser;
  if (filters.users && !filters.users.has(user)) return SKIP.userFilter;
  if (filters.databases && !filters.databases.has(typeof item.databaseName === 'string' ? item.databaseName : ''))
    return SKIP.databaseFilter;
  return null;
}

/**
 * Appends the events of one decrypted record to `batch`: heartbeats and filtered events are counted in
 * `skipped`, malformed events rejected one by one (`<ref>#<index>`), a malformed record rejected whole.
 * Does not count the record in `batch.records`: the caller counts Kinesis records.
 */
export function mapDasRecord(record: unknown, unit: RecordUnit, filters: DasFilters, batch: Batch): void {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    batch.rejected.push(rejected(unit.ref, 'decrypted record is not a JSON object', JSON.stringify(record)));
    return;
  }
  const rec = record as Json;
  if (rec.type !== RECORD_TYPE || !Array.isArray(rec.databaseActivityEventList)) {
    const reason =
      rec.type !== RECORD_TYPE
        ? `unknown decrypted record type ${JSON.stringify(rec.type ?? null)}`
        : 'decrypted record has no databaseActivityEventList';
    batch.rejected.push(rejected(unit.ref, reason, JSON.stringify(record)));
    return;
  }
  const list = rec.databaseActivityEventList as unknown[];
  if (list.length === 0) skip(batch, SKIP.emptyRecord);
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      batch.rejected.push(rejected(`${unit.ref}#${i}`, 'activity event is not a JSON object', JSON.stringify(item)));
      continue;
    }
    const ev = item as Json;
    if (ev.type === 'heartbeat') {
      skip(batch, SKIP.heartbeat);
      continue;
    }
    const filtered = filteredOut(ev, filters);
    if (filtered) {
      skip(batch, filtered);
      continue;
    }
    const mapped = mapEvent(ev, rec, unit, i);
    if (typeof mapped === 'string') batch.rejected.push(rejected(`${unit.ref}#${i}`, mapped, JSON.stringify(item)));
    else batch.events.push(mapped);
  }
}
