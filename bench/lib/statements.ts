import type { Random } from './random.js';
import { email, type Statement, type StatementError, type Template } from './statement-types.js';
import { DDL, FUNCTIONS, MISC, MULTI, ROLES } from './statements-admin.js';
import { READS, WRITES } from './statements-dml.js';

export type { AuditEntry, Statement, StatementError } from './statement-types.js';

/** The workload mix: relative weights of the kinds of statement. */
const KINDS: readonly (readonly [number, Template[]])[] = [
  [52, READS],
  [27, WRITES],
  [9, MISC],
  [5, FUNCTIONS],
  [3, DDL],
  [2, ROLES],
  [2, [MULTI]],
];

/** A random statement of the workload mix. */
export function randomStatement(r: Random): Statement {
  return r.pick(r.weighted(KINDS))(r);
}

/** A random failing statement. */
export function randomError(r: Random): StatementError {
  return r.weighted<StatementError>([
    [
      4,
      {
        tag: 'INSERT',
        sqlstate: '23505',
        message: 'duplicate key value violates unique constraint "customers_email_key"',
        detail: `Key (email)=(${email(r)}) already exists.`,
        query: 'INSERT INTO customers (name, email, city, company, note) VALUES ($1, $2, $3, $4, $5)',
      },
    ],
    [
      3,
      {
        tag: 'SELECT',
        sqlstate: '42P01',
        message: 'relation "no_such_table" does not exist',
        query: 'SELECT * FROM no_such_table',
        queryPos: 15,
      },
    ],
    [2, { tag: 'SELECT', sqlstate: '22012', message: 'division by zero', query: 'SELECT balance / $1 FROM accounts WHERE name = $2' }],
    [2, { tag: 'SELECT', sqlstate: '42501', message: 'permission denied for table payroll', query: 'SELECT * FROM payroll' }],
    [
      1,
      {
        tag: 'SELECT',
        sqlstate: '57014',
        message: 'canceling statement due to statement timeout',
        query: 'SELECT * FROM orders o JOIN order_lines l ON l.order_id = o.id',
      },
    ],
    [
      1,
      {
        tag: 'UPDATE',
        sqlstate: '40P01',
        message: 'deadlock detected',
        detail: `Process ${r.int(1000, 99999)} waits for ShareLock on transaction ${r.int(1e5, 9e5)}; blocked by process ${r.int(1000, 99999)}.\nProcess ${r.int(1000, 99999)} waits for ShareLock on transaction ${r.int(1e5, 9e5)}; blocked by process ${r.int(1000, 99999)}.`,
        hint: 'See server log for query details.',
        context: 'while updating tuple (0,12) in relation "accounts"',
        query: 'UPDATE accounts SET balance = balance + $1 WHERE name = $2',
      },
    ],
  ]);
}
