import { AUTHENTICATION, DATASTORE_ACTIVITY } from './map.js';

/**
 * The Parquet columns of each exported class, as DuckDB types: every file of a class has the same
 * schema (what the Security Lake crawler expects), whatever attributes a day's events happen to use.
 * Types follow OCSF's: integer_t INTEGER, long_t and timestamp_t BIGINT, string_t VARCHAR, `unmapped`
 * a map of text.
 */

const USER = 'STRUCT(name VARCHAR)';
const SESSION = 'STRUCT(uid VARCHAR)';
const ENDPOINT = 'STRUCT(ip VARCHAR, port INTEGER, hostname VARCHAR, name VARCHAR, svc_name VARCHAR, instance_uid VARCHAR)';

const COMMON: [string, string][] = [
  ['activity_id', 'INTEGER'],
  ['activity_name', 'VARCHAR'],
  ['category_uid', 'INTEGER'],
  ['category_name', 'VARCHAR'],
  ['class_uid', 'INTEGER'],
  ['class_name', 'VARCHAR'],
  ['type_uid', 'BIGINT'],
  ['type_name', 'VARCHAR'],
  ['time', 'BIGINT'],
  ['timezone_offset', 'INTEGER'],
  ['duration', 'BIGINT'],
  ['severity_id', 'INTEGER'],
  ['severity', 'VARCHAR'],
  ['status_id', 'INTEGER'],
  ['status', 'VARCHAR'],
  ['status_code', 'VARCHAR'],
  ['status_detail', 'VARCHAR'],
  ['message', 'VARCHAR'],
  [
    'metadata',
    'STRUCT(version VARCHAR, product STRUCT(name VARCHAR, vendor_name VARCHAR), uid VARCHAR, log_provider VARCHAR, log_name VARCHAR, original_time VARCHAR, processed_time BIGINT, profiles VARCHAR[])',
  ],
  ['cloud', 'STRUCT(provider VARCHAR, region VARCHAR, account STRUCT(uid VARCHAR))'],
  ['src_endpoint', ENDPOINT],
  ['dst_endpoint', ENDPOINT],
];

/** Columns of the Authentication (3002) files. */
export const AUTHENTICATION_COLUMNS: [string, string][] = [
  ...COMMON,
  ['user', USER],
  ['service', 'STRUCT(name VARCHAR)'],
  ['session', SESSION],
  ['actor', 'STRUCT(app_name VARCHAR)'],
  ['logon_type_id', 'INTEGER'],
  ['logon_type', 'VARCHAR'],
  ['is_remote', 'BOOLEAN'],
  ['unmapped', 'MAP(VARCHAR, VARCHAR)'],
];

/** Columns of the Datastore Activity (6005) files. */
export const DATASTORE_ACTIVITY_COLUMNS: [string, string][] = [
  ...COMMON,
  ['actor', `STRUCT("user" ${USER}, session ${SESSION}, app_name VARCHAR)`],
  ['database', 'STRUCT(name VARCHAR, type_id INTEGER, type VARCHAR)'],
  ['table', 'STRUCT(name VARCHAR)'],
  ['type_id', 'INTEGER'],
  ['type', 'VARCHAR'],
  ['query_info', 'STRUCT(name VARCHAR, uid VARCHAR, query_string VARCHAR)'],
  ['unmapped', 'MAP(VARCHAR, VARCHAR)'],
];

/** The columns of a class. */
export function ocsfColumns(classUid: number): [string, string][] {
  if (classUid === AUTHENTICATION.class_uid) return AUTHENTICATION_COLUMNS;
  if (classUid === DATASTORE_ACTIVITY.class_uid) return DATASTORE_ACTIVITY_COLUMNS;
  throw new Error(`no OCSF columns for class ${classUid}`);
}
