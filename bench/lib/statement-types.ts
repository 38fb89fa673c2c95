import type { Random } from './random.js';

/**
 * The statements a generated session runs and the AUDIT lines pgAudit 1.7 writes for each
 * (`pgaudit.log=all`, `log_relation`, `log_rows`, `log_parameter` per role), shaped on the real server's
 * output in `fixtures/pgaudit/pg15.csv`: one line per relation, SESSION+OBJECT pairs for tables the audit
 * role is granted, serial columns and primary keys as extra DDL lines, nested statements of functions as
 * substatements listing the function's variables, a multi-statement query string repeated on every line.
 */

/** One AUDIT line of a statement. */
export interface AuditEntry {
  /** OBJECT lines come from `pgaudit.role` grants; default SESSION. */
  type?: 'OBJECT';
  /** Substatement id; default 1. */
  sub?: number;
  /** The line starts the next statement id (each part of a multi-statement query string gets its own). */
  nextStatement?: boolean;
  cls: 'READ' | 'WRITE' | 'FUNCTION' | 'ROLE' | 'DDL' | 'MISC';
  command: string;
  objectType?: string;
  objectName?: string;
  rows: number;
  /** Statement text of a nested statement (inside a function), instead of the top-level one. */
  text?: string;
  /** Parameters of a nested statement. */
  params?: (string | null)[] | null;
}

/** A statement a client sends. */
export interface Statement {
  /** csvlog command_tag: the ps display of the top-level statement. */
  tag: string;
  text: string;
  /** Bound parameters (extended protocol), NULLs included; null for none (`<none>`). */
  params: (string | null)[] | null;
  /** Whether it is assigned a transaction id. */
  writes: boolean;
  entries: AuditEntry[];
}

/** A statement that fails: PostgreSQL logs an ERROR line and pgAudit nothing. */
export interface StatementError {
  tag: string;
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
  context?: string;
  query: string;
  queryPos?: number;
}

/** Builds a statement from random values. */
export type Template = (r: Random) => Statement;

/** Values clients send: unicode, commas, quotes, CR LF, TAB, empty strings. */
export const NAMES = [
  'Ann',
  'Bob',
  "O'Brien",
  'Zoë Ødegaard',
  'José Núñez',
  'Łukasz',
  '李雷',
  '山田 太郎',
  'Μαρία',
  'Ngozi Okafor',
  'Ünal',
];
export const CITIES = ['Zürich ✓ 東京', 'São Paulo', 'Kraków', 'Reykjavík', 'New York, NY', 'Köln', 'Montréal', 'Berlin', 'Lagos'];
export const COMPANIES = ['Comma, Inc.', 'Acme "Rockets" Ltd', 'Müller & Söhne GmbH', 'Initech', 'Globex, LLC', 'Tōkyō Trading 株式会社'];
export const NOTES = ['line1\r\nline2', 'Multi\nline', 'tab\there', 'He said "hi"', 'ok', '', 'refund, partial', 'café ☕'];
export const STATUSES = ['pending', 'paid', 'shipped', 'cancelled', 'refunded'];

export const email = (r: Random) =>
  `${r.pick(['ann', 'bob', 'jose', 'li', 'maria', 'sam'])}.${r.int(1, 99999)}@example.${r.pick(['com', 'org', 'de'])}`;
export const day = (r: Random) => `2024-0${r.int(1, 4)}-${String(r.int(1, 28)).padStart(2, '0')}`;
export const money = (r: Random) => `${r.int(0, 99999)}.${String(r.int(0, 99)).padStart(2, '0')}`;
export const read = (objectName: string, rows: number, objectType = 'TABLE'): AuditEntry => ({
  cls: 'READ',
  command: 'SELECT',
  objectType,
  objectName,
  rows,
});

const hex = (r: Random, digits: number) => {
  let out = '';
  while (out.length < digits) out += r.int(0, 0xffffff).toString(16).padStart(6, '0');
  return out.slice(0, digits);
};

/** A sqlcommenter tag as ORMs append it (https://google.github.io/sqlcommenter/): commas and quotes included. */
export const sqlComment = (r: Random, controller: string, action: string) =>
  ` /*action='${action}',controller='${controller}',framework='rails',traceparent='00-${hex(r, 32)}-${hex(r, 16)}-01'*/`;
