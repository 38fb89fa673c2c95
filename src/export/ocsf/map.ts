import { isIP } from 'node:net';
import { parseTimestampMicros } from '../../schema/index.js';

/**
 * One audit event as an OCSF 1.3.0 event (https://schema.ocsf.io/1.3.0/): CONNECT, DISCONNECT and
 * AUTH_FAILURE as Authentication (3002), everything else as Datastore Activity (6005). The event in,
 * as the lake holds it (a row of `audit_events` with timestamps as ISO text); a plain object out,
 * with absent attributes left out. Source fields OCSF has no attribute for go to `unmapped` as text.
 * The mapping is written against the class and object files of ocsf/ocsf-schema at tag 1.3.0:
 * events/base_event.json, events/iam/authentication.json, events/application/datastore_activity.json,
 * objects/{metadata,product,actor,user,session,network_endpoint,endpoint,database,table,query_info,
 * service,cloud,account}.json and dictionary.json.
 */

/** The OCSF version every exported event declares in `metadata.version` (Security Lake takes up to 1.3). */
export const OCSF_VERSION = '1.3.0';

export const AUTHENTICATION = {
  class_uid: 3002,
  class_name: 'Authentication',
  category_uid: 3,
  category_name: 'Identity & Access Management',
};
export const DATASTORE_ACTIVITY = {
  class_uid: 6005,
  class_name: 'Datastore Activity',
  category_uid: 6,
  category_name: 'Application Activity',
};

/** Default Security Lake custom source names, one per class (Security Lake allows at most 20 characters). */
export const DEFAULT_SOURCES = { authentication: 'auditlake-auth', datastore: 'auditlake-datastore' };

/** An OCSF event as a plain JSON object. */
export type OcsfEvent = Record<string, unknown>;

type Row = Record<string, unknown>;

/** Keeps only attributes with a value (OCSF leaves absent attributes out rather than null). */
function compact<T extends Record<string, unknown>>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== null && v !== undefined)) as T;
}

const text = (v: unknown): string | undefined => (v === null || v === undefined || v === '' ? undefined : String(v));
const millis = (iso: unknown): number | undefined => {
  const us = typeof iso === 'string' ? parseTimestampMicros(iso) : null;
  return us === null ? undefined : Math.floor(us / 1000);
};

/** string_t holds at most 65,535 characters (dictionary.json types). */
const MAX_STRING = 65_535;

/** The client: an IP (ip_t), else a name (`[local]` for a Unix socket, or a host name with log_hostname). */
function clientEndpoint(row: Row): Record<string, unknown> {
  const addr = text(row.client_addr);
  const port = typeof row.client_port === 'number' ? row.client_port : undefined;
  if (addr && isIP(addr)) return compact({ ip: addr, port });
  // network_endpoint needs one of ip, uid, name, hostname, ...: an unknown client is named as PostgreSQL does.
  return compact({ name: addr ?? '[unknown]', port });
}

/** The database server: `server_host` is an address, a name, or `host:port` (the proxy's upstream). */
function serverEndpoint(row: Row): Record<string, unknown> {
  const host = text(row.server_host);
  let address = host;
  let port: number | undefined;
  const m = host ? /^(.+):(\d{1,5})$/.exec(host) : null;
  if (m && !isIP(host!)) {
    address = m[1].replace(/^\[(.*)\]$/, '$1');
    port = Number(m[2]);
  }
  return compact({
    svc_name: 'postgresql',
    ip: address && isIP(address) ? address : undefined,
    hostname: address && !isIP(address) ? address : undefined,
    port,
    instance_uid: text(row.instance_id),
  });
}

function metadata(row: Row, profiles: string[]): Record<string, unknown> {
  return compact({
    version: OCSF_VERSION,
    product: { name: 'auditlake', vendor_name: 'auditlake' },
    uid: text(row.event_id),
    log_provider: text(row.source),
    log_name: text(row.source_format),
    original_time: text(row.event_time),
    processed_time: millis(row.ingest_time),
    profiles: profiles.length > 0 ? profiles : undefined,
  });
}

/** Columns with no OCSF attribute, kept as text under `unmapped`. */
const UNMAPPED = [
  'source_ref',
  'cluster_id',
  'process_id',
  'command',
  'object_type',
  'object_name',
  'statement_id',
  'substatement_id',
  'transaction_id',
  'row_count',
  'audit_type',
  'database_name',
  'raw_extras',
];

function unmapped(row: Row, mappedHere: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of UNMAPPED) {
    if (mappedHere.includes(name)) continue;
    const v = row[name];
    if (v !== null && v !== undefined) out[name] = String(v);
  }
  if (Array.isArray(row.parameters)) out.parameters = JSON.stringify(row.parameters);
  if (typeof row.statement_text === 'string' && row.statement_text.length > MAX_STRING) out.statement_text = row.statement_text;
  return out;
}

/** Where the event happened, for the cloud profile. */
export interface CloudContext {
  region?: string;
  accountId?: string;
}

/** Attributes every exported event has, whatever its class. */
function common(row: Row, cls: typeof AUTHENTICATION, activityId: number, activityName: string, cloud: CloudContext): OcsfEvent {
  const failed = row.success === false;
  const inCloud = Boolean(cloud.region || cloud.accountId);
  // severity_id: 1 Informational; a failed login is 3 Medium, any other failure 2 Low.
  const severityId = !failed ? 1 : row.event_class === 'AUTH_FAILURE' ? 3 : 2;
  return compact({
    activity_id: activityId,
    activity_name: activityName,
    category_uid: cls.category_uid,
    category_name: cls.category_name,
    class_uid: cls.class_uid,
    class_name: cls.class_name,
    type_uid: cls.class_uid * 100 + activityId,
    type_name: `${cls.class_name}: ${activityName}`,
    time: millis(row.event_time),
    timezone_offset: 0,
    duration: typeof row.duration_ms === 'number' ? Math.round(row.duration_ms) : undefined,
    severity_id: severityId,
    severity: ['Unknown', 'Informational', 'Low', 'Medium'][severityId],
    status_id: failed ? 2 : 1,
    status: failed ? 'Failure' : 'Success',
    status_code: text(row.error_code),
    status_detail: text(row.error_message),
    metadata: metadata(row, inCloud ? ['cloud'] : []),
    cloud: inCloud
      ? compact({ provider: 'AWS', region: cloud.region, account: cloud.accountId ? { uid: cloud.accountId } : undefined })
      : undefined,
    src_endpoint: clientEndpoint(row),
    dst_endpoint: serverEndpoint(row),
  });
}

/** True for the events that map to Authentication (3002). */
export function isAuthentication(row: Row): boolean {
  return row.event_class === 'CONNECT' || row.event_class === 'DISCONNECT' || row.event_class === 'AUTH_FAILURE';
}

/** A CONNECT, DISCONNECT or AUTH_FAILURE as Authentication: Logon (1) or Logoff (2); a failure has status_id 2. */
export function toAuthentication(row: Row, cloud: CloudContext = {}): OcsfEvent {
  const logoff = row.event_class === 'DISCONNECT';
  const local = row.client_addr === '[local]';
  const user = text(row.db_user);
  const verb = logoff ? 'logged off' : row.success === false ? 'failed to log on' : 'logged on';
  const where = [text(row.database_name) && `to ${row.database_name}`, text(row.client_addr) && `from ${row.client_addr}`]
    .filter(Boolean)
    .join(' ');
  return compact({
    ...common(row, AUTHENTICATION, logoff ? 2 : 1, logoff ? 'Logoff' : 'Logon', cloud),
    message: `${user ?? '[unknown]'} ${verb}${where ? ` ${where}` : ''}${text(row.error_code) ? ` (${row.error_code})` : ''}`,
    user: user ? { name: user } : { name: '[unknown]' },
    service: text(row.database_name) ? { name: String(row.database_name) } : undefined,
    session: text(row.session_id) ? { uid: String(row.session_id) } : undefined,
    actor: text(row.application_name) ? { app_name: String(row.application_name) } : undefined,
    // logon_type_id 3 Network for TCP; a Unix-socket login is 99 Other.
    logon_type_id: local ? 99 : text(row.client_addr) ? 3 : undefined,
    logon_type: local ? 'Local (Unix socket)' : text(row.client_addr) ? 'Network' : undefined,
    is_remote: text(row.client_addr) ? !local : undefined,
    unmapped: nonEmpty(unmapped(row, ['database_name'])),
  });
}

const nonEmpty = (o: Record<string, string>) => (Object.keys(o).length > 0 ? o : undefined);

/** Datastore Activity activity_id (events/application/datastore_activity.json) for a statement. */
export function datastoreActivity(row: Row): [number, string] {
  const command = String(row.command ?? '').toUpperCase();
  if (row.event_class === 'READ') return command === 'COPY' ? [1, 'Read'] : [4, 'Query'];
  if (command === 'SELECT') return [4, 'Query'];
  if (command === 'INSERT' || command === 'COPY') return [5, 'Write'];
  if (command === 'UPDATE' || command === 'MERGE' || command === 'GRANT' || command === 'REVOKE' || command.startsWith('ALTER '))
    return [2, 'Update'];
  if (command === 'DELETE' || command === 'TRUNCATE' || command === 'TRUNCATE TABLE' || command.startsWith('DROP ')) return [7, 'Delete'];
  if (command.startsWith('CREATE ') || command === 'SELECT INTO') return [6, 'Create'];
  // 99 Other: activity_name holds the source's own value (the command tag or the event class).
  return [99, command || String(row.event_class)];
}

const TABLE_LIKE = /TABLE|VIEW/;

/** Any other event as Datastore Activity (6005). */
export function toDatastoreActivity(row: Row, cloud: CloudContext = {}): OcsfEvent {
  const [activityId, activityName] = datastoreActivity(row);
  const objectName = text(row.object_name);
  const isTable = Boolean(objectName && (!text(row.object_type) || TABLE_LIKE.test(String(row.object_type))));
  const statement = text(row.statement_text);
  const user = text(row.db_user);
  const mapped = isTable ? ['database_name', 'object_name'] : ['database_name'];
  const actor = compact({
    user: user ? { name: user } : undefined,
    session: text(row.session_id) ? { uid: String(row.session_id) } : undefined,
    app_name: text(row.application_name),
  });
  return compact({
    ...common(row, DATASTORE_ACTIVITY, activityId, activityName, cloud),
    message: [text(row.command) ?? String(row.event_class), objectName].filter(Boolean).join(' '),
    // actor needs one of user, session, app_name, ...: an event with none is attributed to an unknown user.
    actor: Object.keys(actor).length > 0 ? actor : { user: { name: '[unknown]' } },
    database: { name: text(row.database_name) ?? '[unknown]', type_id: 1, type: 'Relational' },
    table: isTable ? { name: objectName } : undefined,
    type_id: isTable ? 3 : 1,
    type: isTable ? 'Table' : 'Database',
    query_info: statement
      ? compact({
          name: text(row.command) ?? String(row.event_class),
          uid: row.statement_id === null || row.statement_id === undefined ? undefined : String(row.statement_id),
          query_string: statement.slice(0, MAX_STRING),
        })
      : undefined,
    unmapped: nonEmpty(unmapped(row, mapped)),
  });
}

/** The OCSF event of a lake row. */
export function toOcsf(row: Row, cloud: CloudContext = {}): OcsfEvent {
  return isAuthentication(row) ? toAuthentication(row, cloud) : toDatastoreActivity(row, cloud);
}
