import { type AuditEvent, NO_POLICY_IDS } from '../schema/index.js';
import type { MembersSnapshot } from './members.js';
import { OPERATIONS, type Operation, type Policy, splitTable } from './policy-schema.js';

/**
 * Which policies an event satisfies. What the server already decided (pgAudit logged an OBJECT line
 * because the audit role holds the privilege) is taken as given; the rest only ingest can decide:
 *
 * - users and roles: the event's `db_user` is listed, or is a member of a listed role in the members
 *   snapshot (a role counts as a member of itself).
 * - the table: `object_name` equals it (schema-qualified, or the bare name when the source gives no
 *   schema); without an object name, the statement text names the table.
 * - the operation: the command tag (`TRUNCATE TABLE` is TRUNCATE; `COPY ... TO` a SELECT, `COPY ...
 *   FROM` an INSERT), else the statement's first keyword.
 * - columns: the statement text names one of them, selects `*`, or is an INSERT without a column
 *   list. With no statement text the event counts (pgAudit checked the columns for OBJECT lines).
 * - failed attempts (a failed statement, not a failed login): the table is named in the error message
 *   (PostgreSQL names it unqualified: `permission denied for table employees`) or the statement; the
 *   SQLSTATE is one of `error_codes` when the policy lists some. A failure whose operation cannot be
 *   told (no command tag, no statement text) counts: an audit should over-report a failed attempt
 *   rather than miss it.
 */
export interface PolicyMatcher {
  readonly policies: readonly Policy[];
  /** Ids of the policies the event satisfies, in policy order; the shared empty list when none. */
  match(event: AuditEvent): string[];
}

/** Raised when a policy set cannot be matched as given (roles without a members snapshot). */
export class PolicyConfigError extends Error {
  override name = 'PolicyConfigError';
}

interface Compiled {
  policy: Policy;
  users: ReadonlySet<string> | null;
  qualified: string;
  bare: string;
  ops: ReadonlySet<Operation>;
  /** The table named in a statement: `public.employees`, `"public"."employees"` or `employees`. */
  inStatement: RegExp;
  /** The table named in an error message (unqualified there). */
  inMessage: RegExp;
  columns: RegExp | null;
}

const escapeName = (s: string) => s.replace(/[$]/g, '\\$');
const STAR = /(?<!\(\s*)\*(?!\s*\))/; // `*` and `t.*`, not count(*)
const INSERT_WITHOUT_COLUMNS = /^\s*insert\s+into\s+[\w$."]+(?:\s+(?:as\s+)?[\w$"]+)?\s+(?:values|select|default|overriding|with|\()/i;
const INSERT_WITH_COLUMNS = /^\s*insert\s+into\s+[\w$."]+(?:\s+(?:as\s+)?[\w$"]+)?\s*\(\s*(?!select\b|with\b)/i;
const FAILED_AUTH: ReadonlySet<string> = new Set(['AUTH_FAILURE', 'CONNECT', 'DISCONNECT']);

function compile(policy: Policy, members: MembersSnapshot | undefined): Compiled {
  let users: Set<string> | null = null;
  if (policy.users || policy.roles) {
    users = new Set(policy.users ?? []);
    for (const role of policy.roles ?? []) {
      if (!members) throw new PolicyConfigError(`${policy.file}: policy "${policy.id}" is scoped by roles: give a members snapshot`);
      users.add(role);
      for (const m of members.members[role] ?? []) users.add(m);
    }
  }
  const { schema, name } = splitTable(policy.table);
  return {
    policy,
    users,
    qualified: policy.table,
    bare: name,
    ops: new Set(policy.operations),
    inStatement: new RegExp(`(?:^|[^\\w$."])(?:"?${escapeName(schema)}"?\\s*\\.\\s*)?"?${escapeName(name)}"?(?![\\w$"])`, 'i'),
    inMessage: new RegExp(`(?:^|[^\\w$.])"?${escapeName(name)}"?(?![\\w$])`, 'i'),
    columns: policy.columns ? new RegExp(`(?:^|[^\\w$])"?(?:${policy.columns.map(escapeName).join('|')})"?(?![\\w$])`, 'i') : null,
  };
}

const OPERATION_SET: ReadonlySet<string> = new Set(OPERATIONS);

/** Operation of each command tag seen, by tag: a log has few distinct tags, and this runs per event. */
const BY_COMMAND = new Map<string, Operation | null | 'COPY'>();

function commandOperation(command: string): Operation | null | 'COPY' {
  let op = BY_COMMAND.get(command);
  if (op !== undefined) return op;
  const word = command.trim().split(/\s+/)[0].toUpperCase();
  op = word === 'COPY' ? 'COPY' : OPERATION_SET.has(word) ? (word as Operation) : null;
  if (BY_COMMAND.size < 1000) BY_COMMAND.set(command, op);
  return op;
}

/** The operation of an event: from its command tag, else its statement's first keyword; null when neither tells. */
export function operationOf(event: Pick<AuditEvent, 'command' | 'statement_text'>): Operation | null {
  const text = event.statement_text ?? '';
  if (event.command) {
    const op = commandOperation(event.command);
    if (op !== 'COPY') return op;
    return /\bfrom\s+(?:stdin|'|program)/i.test(text) ? 'INSERT' : 'SELECT';
  }
  if (/^\s*copy\b/i.test(text)) return /\bfrom\s+(?:stdin|'|program)/i.test(text) ? 'INSERT' : 'SELECT';
  const first = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase();
  if (first && OPERATION_SET.has(first)) return first as Operation;
  if (first === 'WITH') {
    // A data-modifying CTE: the main statement's verb is the last one in the text.
    const verbs = text.toUpperCase().match(/\b(SELECT|INSERT|UPDATE|DELETE)\b/g);
    return (verbs?.at(-1) as Operation | undefined) ?? null;
  }
  return null;
}

function touchesColumns(c: Compiled, event: AuditEvent, op: Operation | null): boolean {
  if (!c.columns) return true;
  const text = event.statement_text;
  if (!text || text === '<not logged>') return true;
  if (c.columns.test(text) || STAR.test(text)) return true;
  return op === 'INSERT' && INSERT_WITHOUT_COLUMNS.test(text) && !INSERT_WITH_COLUMNS.test(text);
}

/** `object` is the event's object name in lower case (computed once per event). */
function namesTable(c: Compiled, event: AuditEvent, object: string | null): boolean {
  if (object) return object.includes('.') ? object === c.qualified : object === c.bare;
  return event.statement_text ? c.inStatement.test(event.statement_text) : false;
}

function matches(c: Compiled, event: AuditEvent, op: Operation | null, object: string | null): boolean {
  if (c.users && (event.db_user === null || !c.users.has(event.db_user))) return false;
  if (event.success) {
    if (c.policy.outcome === 'failed' || op === null || !c.ops.has(op)) return false;
    return namesTable(c, event, object) && touchesColumns(c, event, op);
  }
  const codes = c.policy.error_codes;
  if (codes && (event.error_code === null || !codes.includes(event.error_code))) return false;
  if (op !== null && !c.ops.has(op)) return false;
  const named =
    (event.error_message !== null && c.inMessage.test(event.error_message)) ||
    (event.statement_text !== null && c.inStatement.test(event.statement_text)) ||
    (object !== null && namesTable(c, event, object));
  return named && touchesColumns(c, event, op);
}

/** Compiles a policy set; a members snapshot is needed when a policy is scoped by roles. */
export function createPolicyMatcher(policies: readonly Policy[], members?: MembersSnapshot): PolicyMatcher {
  const compiled = policies.map((p) => compile(p, members));
  return {
    policies,
    match(event) {
      if (FAILED_AUTH.has(event.event_class)) return NO_POLICY_IDS;
      const op = operationOf(event);
      const object = event.object_name === null ? null : event.object_name.toLowerCase();
      let ids: string[] | null = null;
      for (const c of compiled) {
        if (!matches(c, event, op, object)) continue;
        if (ids === null) ids = [];
        ids.push(c.policy.id);
      }
      return ids ?? NO_POLICY_IDS;
    },
  };
}
