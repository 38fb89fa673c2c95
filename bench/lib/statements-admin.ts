import { type AuditEntry, read, type Template } from './statement-types.js';

/** Transaction control and maintenance, functions and DO blocks, DDL, role changes, a multi-statement query. */

export const MISC: Template[] = [
  () => ({
    tag: 'SET',
    text: 'SET search_path = app, public;',
    params: null,
    writes: false,
    entries: [{ cls: 'MISC', command: 'SET', rows: 0 }],
  }),
  (r) => ({
    tag: 'VACUUM',
    text: `VACUUM (ANALYZE) ${r.pick(['orders', 'customers', 'web_sessions'])};`,
    params: null,
    writes: false,
    entries: [{ cls: 'MISC', command: 'VACUUM', rows: 0 }],
  }),
  () => ({
    tag: 'DISCARD ALL',
    text: 'DISCARD ALL',
    params: null,
    writes: false,
    entries: [{ cls: 'MISC', command: 'DISCARD ALL', rows: 0 }],
  }),
  () => ({ tag: 'ANALYZE', text: 'ANALYZE orders;', params: null, writes: true, entries: [{ cls: 'MISC', command: 'ANALYZE', rows: 0 }] }),
];

export const FUNCTIONS: Template[] = [
  (r) => {
    const rate = `0.0${r.int(1, 9)}`;
    const text = `SELECT add_interest(${rate});`;
    const rows = r.int(1, 5000);
    return {
      tag: 'SELECT',
      text,
      params: null,
      writes: true,
      entries: [
        { cls: 'FUNCTION', command: 'EXECUTE', objectType: 'FUNCTION', objectName: 'public.add_interest', rows: 0 },
        {
          sub: 2,
          cls: 'WRITE',
          command: 'UPDATE',
          objectType: 'TABLE',
          objectName: 'public.accounts',
          rows,
          text: 'UPDATE accounts SET balance = balance * (1 + rate)',
          params: [rate, null, null],
        },
        { sub: 3, cls: 'READ', command: 'SELECT', rows: 1 },
      ],
    };
  },
  () => ({
    tag: 'DO',
    text: "DO $$\nBEGIN\n  PERFORM count(*) FROM orders WHERE status = 'pending';\nEND\n$$;",
    params: null,
    writes: false,
    entries: [
      { cls: 'FUNCTION', command: 'DO', rows: 0 },
      { sub: 2, ...read('public.orders', 1), text: "SELECT count(*) FROM orders WHERE status = 'pending'" },
    ],
  }),
];

export const DDL: Template[] = [
  (r) => {
    const t = `report_${r.int(1, 99999)}`;
    const text = `CREATE TABLE ${t} (\n  id serial PRIMARY KEY,\n  label text NOT NULL,\n  amount numeric(12,2) NOT NULL DEFAULT 0\n);`;
    const ddl = (command: string, objectType: string, objectName: string): AuditEntry => ({
      cls: 'DDL',
      command,
      objectType,
      objectName,
      rows: 0,
    });
    return {
      tag: 'CREATE TABLE',
      text,
      params: null,
      writes: true,
      entries: [
        ddl('CREATE SEQUENCE', 'SEQUENCE', `public.${t}_id_seq`),
        ddl('CREATE TABLE', 'TABLE', `public.${t}`),
        ddl('CREATE INDEX', 'INDEX', `public.${t}_pkey`),
        ddl('ALTER SEQUENCE', 'SEQUENCE', `public.${t}_id_seq`),
      ],
    };
  },
  (r) => ({
    tag: 'CREATE INDEX',
    text: `CREATE INDEX CONCURRENTLY orders_status_${r.int(1, 999)}_idx ON orders (status, created_at);`,
    params: null,
    writes: false,
    entries: [{ cls: 'DDL', command: 'CREATE INDEX', objectType: 'INDEX', objectName: 'public.orders_status_idx', rows: 0 }],
  }),
  () => ({
    tag: 'ALTER TABLE',
    text: 'ALTER TABLE customers ADD COLUMN IF NOT EXISTS loyalty_tier text;',
    params: null,
    writes: true,
    entries: [{ cls: 'DDL', command: 'ALTER TABLE', objectType: 'TABLE', objectName: 'public.customers', rows: 0 }],
  }),
];

export const ROLES: Template[] = [
  () => ({
    tag: 'GRANT',
    text: 'GRANT SELECT, INSERT, UPDATE ON orders TO billing_svc;',
    params: null,
    writes: true,
    entries: [{ cls: 'ROLE', command: 'GRANT', objectType: 'TABLE', rows: 0 }],
  }),
  (r) => ({
    tag: 'CREATE ROLE',
    text: `CREATE ROLE temp_${r.int(1, 9999)} LOGIN PASSWORD <REDACTED>`,
    params: null,
    writes: true,
    entries: [{ cls: 'ROLE', command: 'CREATE ROLE', rows: 0 }],
  }),
  () => ({
    tag: 'ALTER ROLE',
    text: 'ALTER ROLE app_user WITH PASSWORD <REDACTED>',
    params: null,
    writes: true,
    entries: [{ cls: 'ROLE', command: 'ALTER ROLE', rows: 0 }],
  }),
  () => ({
    tag: 'REVOKE',
    text: 'REVOKE UPDATE ON accounts FROM reporting;',
    params: null,
    writes: true,
    entries: [{ cls: 'ROLE', command: 'REVOKE', objectType: 'TABLE', rows: 0 }],
  }),
];

export const MULTI: Template = () => {
  const text = "SELECT count(*) FROM orders; UPDATE orders SET note = 'multi; statement' WHERE id = 1; SELECT 'done'";
  return {
    tag: 'SELECT',
    text,
    params: null,
    writes: true,
    entries: [
      read('public.orders', 1),
      { nextStatement: true, cls: 'WRITE', command: 'UPDATE', objectType: 'TABLE', objectName: 'public.orders', rows: 1 },
      { nextStatement: true, cls: 'READ', command: 'SELECT', rows: 1 },
    ],
  };
};
