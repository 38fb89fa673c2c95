import { isIP } from 'node:net';

/**
 * A validator for the two OCSF classes auditlake exports, written by hand from the public schema at
 * ocsf/ocsf-schema tag 1.3.0 (https://github.com/ocsf/ocsf-schema/tree/1.3.0), from these files:
 *   events/base_event.json, includes/classification.json, includes/occurrence.json, profiles/cloud.json,
 *   events/iam/iam.json, events/iam/authentication.json, events/application/application.json,
 *   events/application/datastore_activity.json,
 *   objects/{metadata,product,_entity,actor,user,session,endpoint,network_endpoint,database,table,
 *   query_info,service,cloud,account}.json, and dictionary.json (attribute types, shared enums, and
 *   the types section: string_t at most 65,535 characters, port_t 0..65535, timestamp_t a long of ms).
 * It checks what an OCSF validator checks for these classes: required attributes, `at_least_one`
 * constraints, types (recursively through objects), enum values, no attribute the class or object
 * does not define, and the derived values (type_uid, category_uid, captions of the *_id enums).
 * Only the attributes and objects the export can emit are spelled out in detail; other attributes
 * the schema defines are listed by name so that using one is not mistaken for an unknown one.
 */

type Scalar =
  | 'integer_t'
  | 'long_t'
  | 'timestamp_t'
  | 'string_t'
  | 'boolean_t'
  | 'ip_t'
  | 'port_t'
  | 'hostname_t'
  | 'username_t'
  | 'json_t';
type Requirement = 'required' | 'recommended' | 'optional';

interface Attr {
  type: Scalar | { object: string };
  requirement: Requirement;
  /** Allowed values and their captions (enum keys in the schema). */
  enum?: Record<number, string>;
  array?: boolean;
}

interface Definition {
  attributes: Record<string, Attr>;
  atLeastOne?: string[];
}

const req = (type: Attr['type'], extra: Partial<Attr> = {}): Attr => ({ type, requirement: 'required', ...extra });
const rec = (type: Attr['type'], extra: Partial<Attr> = {}): Attr => ({ type, requirement: 'recommended', ...extra });
const opt = (type: Attr['type'], extra: Partial<Attr> = {}): Attr => ({ type, requirement: 'optional', ...extra });
const obj = (name: string) => ({ object: name });
/** Attributes the schema defines but the export never emits: allowed, their content not checked here. */
const other = (...names: string[]): Record<string, Attr> => Object.fromEntries(names.map((n) => [n, opt('json_t')]));

// dictionary.json enums
const SEVERITY = { 0: 'Unknown', 1: 'Informational', 2: 'Low', 3: 'Medium', 4: 'High', 5: 'Critical', 6: 'Fatal', 99: 'Other' };
const STATUS = { 0: 'Unknown', 1: 'Success', 2: 'Failure', 99: 'Other' };
const AUTH_PROTOCOL = {
  0: 'Unknown',
  1: 'NTLM',
  2: 'Kerberos',
  3: 'Digest',
  4: 'OpenID',
  5: 'SAML',
  6: 'OAUTH 2.0',
  7: 'PAP',
  8: 'CHAP',
  9: 'EAP',
  10: 'RADIUS',
  99: 'Other',
};
const LOGON_TYPE = {
  0: 'Unknown',
  1: 'System',
  2: 'Interactive',
  3: 'Network',
  4: 'Batch',
  5: 'OS Service',
  7: 'Unlock',
  8: 'Network Cleartext',
  9: 'New Credentials',
  10: 'Remote Interactive',
  11: 'Cached Interactive',
  12: 'Cached Remote Interactive',
  13: 'Cached Unlock',
  99: 'Other',
};

/** events/base_event.json with includes/classification.json and includes/occurrence.json. */
function baseEvent(activities: Record<number, string>): Record<string, Attr> {
  return {
    activity_id: req('integer_t', { enum: { 0: 'Unknown', ...activities, 99: 'Other' } }),
    activity_name: opt('string_t'),
    category_uid: req('integer_t'),
    category_name: opt('string_t'),
    class_uid: req('integer_t'),
    class_name: opt('string_t'),
    type_uid: req('long_t'),
    type_name: opt('string_t'),
    count: opt('integer_t'),
    duration: opt('long_t'),
    end_time: opt('timestamp_t'),
    start_time: opt('timestamp_t'),
    time: req('timestamp_t'),
    timezone_offset: rec('integer_t'),
    message: rec('string_t'),
    metadata: req(obj('metadata')),
    raw_data: opt('string_t'),
    severity: opt('string_t'),
    severity_id: req('integer_t', { enum: SEVERITY }),
    status: rec('string_t'),
    status_code: rec('string_t'),
    status_detail: rec('string_t'),
    status_id: rec('integer_t', { enum: STATUS }),
    unmapped: opt('json_t'),
    ...other('enrichments', 'observables'),
  };
}

/** The classes: uid, category, attributes (base event, category event, class), constraints. */
const CLASSES: Record<number, { category: number; name: string; def: Definition }> = {
  3002: {
    category: 3,
    name: 'Authentication',
    def: {
      attributes: {
        ...baseEvent({
          1: 'Logon',
          2: 'Logoff',
          3: 'Authentication Ticket',
          4: 'Service Ticket Request',
          5: 'Service Ticket Renew',
          6: 'Preauth',
        }),
        // events/iam/iam.json
        src_endpoint: rec(obj('network_endpoint')),
        ...other('http_request', 'device'),
        // events/iam/authentication.json
        actor: opt(obj('actor')),
        auth_protocol: rec('string_t'),
        auth_protocol_id: rec('integer_t', { enum: AUTH_PROTOCOL }),
        dst_endpoint: rec(obj('network_endpoint')),
        is_cleartext: opt('boolean_t'),
        is_mfa: rec('boolean_t'),
        is_new_logon: opt('boolean_t'),
        is_remote: rec('boolean_t'),
        logon_type: rec('string_t'),
        logon_type_id: rec('integer_t', { enum: LOGON_TYPE }),
        service: rec(obj('service')),
        session: rec(obj('session')),
        user: req(obj('user')),
        ...other('auth_factors', 'certificate', 'logon_process'),
      },
      atLeastOne: ['service', 'dst_endpoint'],
    },
  },
  6005: {
    category: 6,
    name: 'Datastore Activity',
    def: {
      attributes: {
        ...baseEvent({
          1: 'Read',
          2: 'Update',
          3: 'Connect',
          4: 'Query',
          5: 'Write',
          6: 'Create',
          7: 'Delete',
          8: 'List',
          9: 'Encrypt',
          10: 'Decrypt',
        }),
        // events/application/datastore_activity.json
        actor: req(obj('actor')),
        src_endpoint: req(obj('network_endpoint')),
        dst_endpoint: rec(obj('network_endpoint')),
        database: rec(obj('database')),
        table: rec(obj('table')),
        query_info: rec(obj('query_info')),
        type: opt('string_t'),
        type_id: rec('integer_t', { enum: { 0: 'Unknown', 1: 'Database', 2: 'Databucket', 3: 'Table', 99: 'Other' } }),
        ...other('databucket', 'http_request'),
      },
      atLeastOne: ['database', 'databucket', 'table'],
    },
  },
};

/** profiles/cloud.json: attributes a class gains when metadata.profiles lists "cloud". */
const CLOUD_PROFILE: Record<string, Attr> = { cloud: req(obj('cloud')), ...other('api') };

const ENTITY = { name: rec('string_t'), uid: rec('string_t') };
const ENDPOINT = {
  ...ENTITY,
  domain: opt('string_t'),
  hostname: rec('hostname_t'),
  instance_uid: rec('string_t'),
  interface_name: rec('string_t'),
  interface_uid: rec('string_t'),
  ip: rec('ip_t'),
  subnet_uid: opt('string_t'),
  type: opt('string_t'),
  vlan_uid: opt('string_t'),
  vpc_uid: opt('string_t'),
  zone: opt('string_t'),
  ...other('agent_list', 'hw_info', 'location', 'mac', 'os', 'owner', 'type_id', 'container', 'namespace_pid'),
};

const OBJECTS: Record<string, Definition> = {
  metadata: {
    attributes: {
      log_name: rec('string_t'),
      log_provider: rec('string_t'),
      logged_time: opt('timestamp_t'),
      modified_time: opt('timestamp_t'),
      original_time: rec('string_t'),
      processed_time: opt('timestamp_t'),
      product: req(obj('product')),
      profiles: opt('string_t', { array: true }),
      sequence: opt('integer_t'),
      tenant_uid: rec('string_t'),
      uid: opt('string_t'),
      version: req('string_t'),
      ...other('correlation_uid', 'event_code', 'extension', 'extensions', 'labels', 'log_level', 'log_version', 'loggers'),
    },
  },
  product: {
    attributes: {
      ...ENTITY,
      vendor_name: req('string_t'),
      version: rec('string_t'),
      ...other('feature', 'cpe_name', 'lang', 'path', 'url_string'),
    },
    atLeastOne: ['name', 'uid'], // objects/_entity.json
  },
  actor: {
    attributes: {
      app_name: opt('string_t'),
      app_uid: opt('string_t'),
      process: rec('json_t'),
      session: opt(obj('session')),
      user: rec(obj('user')),
      ...other('authorizations', 'idp', 'invoked_by'),
    },
    atLeastOne: ['process', 'user', 'invoked_by', 'session', 'app_name', 'app_uid'],
  },
  user: {
    attributes: {
      account: opt(obj('account')),
      name: rec('username_t'),
      uid: rec('string_t'),
      uid_alt: opt('string_t'),
      type: opt('string_t'),
      ...other(
        'credential_uid',
        'domain',
        'email_addr',
        'full_name',
        'groups',
        'ldap_person',
        'org',
        'risk_level',
        'risk_level_id',
        'risk_score',
        'type_id',
      ),
    },
    atLeastOne: ['account', 'name', 'uid'],
  },
  session: {
    attributes: {
      uid: rec('string_t'),
      created_time: rec('timestamp_t'),
      is_remote: rec('boolean_t'),
      issuer: rec('string_t'),
      ...other('count', 'credential_uid', 'expiration_time', 'expiration_reason', 'is_mfa', 'is_vpn', 'terminal', 'uid_alt', 'uuid'),
    },
  },
  network_endpoint: {
    attributes: {
      ...ENDPOINT,
      port: rec('port_t'),
      svc_name: rec('string_t'),
      ...other('autonomous_system', 'intermediate_ips', 'proxy_endpoint'),
    },
    atLeastOne: ['ip', 'uid', 'name', 'hostname', 'svc_name', 'instance_uid', 'interface_uid', 'interface_name'],
  },
  database: {
    attributes: {
      ...ENTITY,
      type: rec('string_t'),
      type_id: req('integer_t', {
        enum: {
          0: 'Unknown',
          1: 'Relational',
          2: 'Network',
          3: 'Object Oriented',
          4: 'Centralized',
          5: 'Operational',
          6: 'NoSQL',
          99: 'Other',
        },
      }),
      ...other('created_time', 'modified_time', 'desc', 'size', 'groups', 'data_classification'),
    },
    atLeastOne: ['name', 'uid'],
  },
  table: {
    attributes: { ...ENTITY, ...other('created_time', 'modified_time', 'desc', 'size', 'groups', 'data_classification') },
    atLeastOne: ['name', 'uid'],
  },
  query_info: {
    attributes: { ...ENTITY, query_string: req('string_t'), query_time: opt('timestamp_t'), bytes: opt('long_t'), data: opt('json_t') },
    atLeastOne: ['name', 'uid'],
  },
  service: { attributes: { ...ENTITY, version: rec('string_t'), ...other('labels') }, atLeastOne: ['name', 'uid'] },
  cloud: {
    attributes: {
      account: opt(obj('account')),
      provider: req('string_t'),
      region: rec('string_t'),
      ...other('org', 'project_uid', 'zone'),
    },
  },
  account: { attributes: { ...ENTITY, type: opt('string_t'), ...other('type_id', 'labels') }, atLeastOne: ['name', 'uid'] },
};

const HOSTNAME = /^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$/;

function checkScalar(type: Scalar, v: unknown, path: string, problems: string[]): void {
  const bad = (what: string) => problems.push(`${path}: expected ${what}, got ${JSON.stringify(v)}`);
  switch (type) {
    case 'integer_t':
      if (!Number.isInteger(v) || Math.abs(v as number) > 2 ** 31) bad('an integer');
      break;
    case 'long_t':
    case 'timestamp_t':
      if (!Number.isSafeInteger(v)) bad('a long integer');
      break;
    case 'port_t':
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 65535) bad('a port (0..65535)');
      break;
    case 'boolean_t':
      if (typeof v !== 'boolean') bad('a boolean');
      break;
    case 'ip_t':
      if (typeof v !== 'string' || !isIP(v)) bad('an IP address');
      break;
    case 'hostname_t':
      if (typeof v !== 'string' || !HOSTNAME.test(v)) bad('a host name');
      break;
    case 'string_t':
    case 'username_t':
      if (typeof v !== 'string' || v.length > 65_535) bad('a string of at most 65,535 characters');
      break;
    case 'json_t':
      break;
  }
}

function checkObject(def: Definition, value: unknown, path: string, problems: string[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`${path}: expected an object`);
    return;
  }
  const o = value as Record<string, unknown>;
  for (const [name, v] of Object.entries(o)) {
    const attr = def.attributes[name];
    const at = path ? `${path}.${name}` : name;
    if (!attr) {
      problems.push(`${at}: not an attribute here`);
      continue;
    }
    if (v === null || v === undefined) continue;
    if (attr.array && !Array.isArray(v)) problems.push(`${at}: expected an array`);
    const values = attr.array ? (Array.isArray(v) ? v : []) : [v];
    for (const item of values) {
      if (typeof attr.type === 'object') checkObject(OBJECTS[attr.type.object], item, at, problems);
      else checkScalar(attr.type, item, at, problems);
      if (attr.enum && !(String(item) in attr.enum)) problems.push(`${at}: ${item} is not one of ${Object.keys(attr.enum).join(', ')}`);
    }
    // A caption attribute (activity_name, severity, status, type, logon_type) must name its *_id value, unless Other.
    if (name.endsWith('_id') && attr.enum) {
      const caption = o[name === 'activity_id' ? 'activity_name' : name.slice(0, -3)];
      const id = Number(v);
      if (typeof caption === 'string' && id !== 99 && attr.enum[id] !== undefined && caption !== attr.enum[id])
        problems.push(`${at}: caption ${JSON.stringify(caption)} is not ${JSON.stringify(attr.enum[id])}`);
    }
  }
  for (const [name, attr] of Object.entries(def.attributes)) {
    if (attr.requirement === 'required' && (o[name] === null || o[name] === undefined))
      problems.push(`${path ? `${path}.` : ''}${name}: required`);
  }
  if (def.atLeastOne && !def.atLeastOne.some((n) => o[n] !== null && o[n] !== undefined))
    problems.push(`${path || 'event'}: needs at least one of ${def.atLeastOne.join(', ')}`);
}

/** Problems with one event (empty when it is valid OCSF 1.3.0 of class 3002 or 6005). */
export function checkOcsf(event: Record<string, unknown>): string[] {
  const cls = CLASSES[event.class_uid as number];
  if (!cls) return [`class_uid ${event.class_uid}: not a class this checker knows (3002, 6005)`];
  const problems: string[] = [];
  const profiles = ((event.metadata as { profiles?: unknown })?.profiles ?? []) as unknown[];
  const def: Definition = profiles.includes('cloud') ? { ...cls.def, attributes: { ...cls.def.attributes, ...CLOUD_PROFILE } } : cls.def;
  checkObject(def, event, '', problems);
  if (event.category_uid !== cls.category) problems.push(`category_uid: ${event.category_uid} is not ${cls.category}`);
  if (event.class_name !== undefined && event.class_name !== cls.name) problems.push(`class_name: ${event.class_name} is not ${cls.name}`);
  if (event.type_uid !== (event.class_uid as number) * 100 + (event.activity_id as number))
    problems.push(`type_uid: ${event.type_uid} is not class_uid * 100 + activity_id`);
  if ((event.metadata as { version?: unknown })?.version !== '1.3.0') problems.push('metadata.version: not 1.3.0');
  return problems;
}

/** Removes null attributes recursively (Parquet read back has every struct field, absent ones null). */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNulls(v);
  return out;
}
