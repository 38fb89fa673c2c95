import {
  type AuditEntry,
  CITIES,
  COMPANIES,
  day,
  email,
  money,
  NAMES,
  NOTES,
  read,
  STATUSES,
  sqlComment,
  type Template,
} from './statement-types.js';

/** Reads and writes of the application roles: most of an audit log. */

/** An ORM-style query: quoted identifiers, so csvlog doubles their quotes twice. */
const ormSelect: Template = (r) => ({
  tag: 'SELECT',
  text:
    'SELECT "customers"."id", "customers"."name", "customers"."email", "customers"."city", "customers"."company", "customers"."loyalty_tier", "customers"."created_at", "customers"."updated_at" FROM "customers" WHERE "customers"."email" = $1 AND "customers"."deleted_at" IS NULL LIMIT $2' +
    sqlComment(r, 'customers', 'show'),
  params: [email(r), '1'],
  writes: false,
  entries: [read('public.customers', r.int(0, 1))],
});

/** An ORM-style listing with a join and keyset pagination. */
const ormOrders: Template = (r) => {
  const rows = r.int(0, 25);
  return {
    tag: 'SELECT',
    text:
      'SELECT "orders"."id", "orders"."customer_id", "orders"."total", "orders"."currency", "orders"."status", "orders"."created_at", "order_lines"."sku", "order_lines"."quantity", "order_lines"."unit_price" FROM "orders" INNER JOIN "order_lines" ON "order_lines"."order_id" = "orders"."id" WHERE "orders"."customer_id" = $1 AND "orders"."created_at" < $2 ORDER BY "orders"."created_at" DESC, "orders"."id" DESC LIMIT $3' +
      sqlComment(r, 'orders', 'index'),
    params: [String(r.int(1, 5_000_000)), `${day(r)} 12:00:00+00`, '25'],
    writes: false,
    entries: [read('public.orders', rows), read('public.order_lines', rows)],
  };
};

export const READS: Template[] = [
  ormSelect,
  ormSelect,
  ormOrders,
  ormOrders,
  (r) => ({
    tag: 'SELECT',
    text: 'SELECT id, name, email, city, created_at FROM customers WHERE id = $1',
    params: [String(r.int(1, 5_000_000))],
    writes: false,
    entries: [read('public.customers', 1)],
  }),
  (r) => {
    const rows = r.int(0, 50);
    return {
      tag: 'SELECT',
      text: 'SELECT o.id, o.total, o.status, o.created_at FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = $1 AND o.created_at >= $2 ORDER BY o.created_at DESC LIMIT 50',
      params: [email(r), day(r)],
      writes: false,
      entries: [read('public.orders', rows), read('public.customers', rows)],
    };
  },
  (r) => ({
    tag: 'SELECT',
    text: `SELECT date_trunc('day', created_at) AS day,\n       count(*) AS orders, sum(total) AS revenue\n  FROM orders\n WHERE city = '${r.pick(CITIES).replaceAll("'", "''")}' -- dashboard, "daily"\n GROUP BY 1 ORDER BY 1;`,
    params: null,
    writes: false,
    entries: [read('public.orders', r.int(1, 31))],
  }),
  (r) => {
    const text = 'SELECT ssn, date_of_birth, diagnosis FROM patients WHERE id = $1';
    const id = String(r.int(1, 90000));
    return {
      tag: 'SELECT',
      text,
      params: [id],
      writes: false,
      entries: [{ type: 'OBJECT', ...read('public.patients', 1) }, read('public.patients', 1)],
    };
  },
  (r) => ({
    tag: 'SELECT',
    text: `SELECT 'O''Brien, "Jr."' AS name, $1::text AS city, '${r.pick(NAMES).replaceAll("'", "''")}' AS contact`,
    params: [r.pick(CITIES)],
    writes: false,
    entries: [{ cls: 'READ', command: 'SELECT', rows: 1 }],
  }),
  () => ({
    tag: 'COPY',
    text: 'COPY orders TO STDOUT WITH (FORMAT csv, HEADER);',
    params: null,
    writes: false,
    entries: [{ cls: 'READ', command: 'COPY', rows: 0 }],
  }),
  (r) => {
    const rows = r.int(0, 200);
    return {
      tag: 'SELECT',
      text: 'SELECT * FROM active_customers WHERE city = $1;',
      params: [r.pick(CITIES)],
      writes: false,
      entries: [
        read('public.active_customers', rows, 'VIEW'),
        { cls: 'MISC', command: '???', objectType: 'VIEW', objectName: 'public.active_customers', rows },
        read('public.customers', rows),
      ],
    };
  },
];

export const WRITES: Template[] = [
  (r) => ({
    tag: 'INSERT',
    text:
      'INSERT INTO "customers" ("name", "email", "city", "company", "note", "created_at", "updated_at") VALUES ($1, $2, $3, $4, $5, now(), now()) RETURNING "id"' +
      sqlComment(r, 'customers', 'create'),
    params: [r.pick(NAMES), email(r), r.pick(CITIES), r.chance(0.3) ? null : r.pick(COMPANIES), r.pick(NOTES)],
    writes: true,
    entries: [{ cls: 'WRITE', command: 'INSERT', objectType: 'TABLE', objectName: 'public.customers', rows: 1 }],
  }),
  (r) => ({
    tag: 'UPDATE',
    text: 'UPDATE "orders" SET "status" = $1, "updated_at" = $2, "lock_version" = $3 WHERE "orders"."id" = $4 AND "orders"."lock_version" = $5',
    params: [
      r.pick(STATUSES),
      `${day(r)} ${String(r.int(10, 23))}:${String(r.int(10, 59))}:07.${r.int(100000, 999999)}+00`,
      String(r.int(2, 9)),
      String(r.int(1, 20_000_000)),
      String(r.int(1, 8)),
    ],
    writes: true,
    entries: [{ cls: 'WRITE', command: 'UPDATE', objectType: 'TABLE', objectName: 'public.orders', rows: r.int(0, 1) }],
  }),
  (r) => ({
    tag: 'UPDATE',
    text: 'UPDATE accounts SET balance = balance + $1 WHERE name = $2',
    params: [money(r), r.pick(COMPANIES)],
    writes: true,
    entries: [{ cls: 'WRITE', command: 'UPDATE', objectType: 'TABLE', objectName: 'public.accounts', rows: 1 }],
  }),
  (r) => ({
    tag: 'DELETE',
    text: "DELETE FROM web_sessions WHERE expires_at < now() - interval '7 days';",
    params: null,
    writes: true,
    entries: [{ cls: 'WRITE', command: 'DELETE', objectType: 'TABLE', objectName: 'public.web_sessions', rows: r.int(0, 5000) }],
  }),
  (r) => ({
    tag: 'INSERT',
    text: `INSERT INTO support_notes (ticket_id, body) VALUES (${r.int(1, 999999)}, 'Customer wrote:\n"the invoice, again, is wrong"\n-- ${r.pick(NAMES).replaceAll("'", "''")}');`,
    params: null,
    writes: true,
    entries: [{ cls: 'WRITE', command: 'INSERT', objectType: 'TABLE', objectName: 'public.support_notes', rows: 1 }],
  }),
  () => ({
    tag: 'COPY',
    text: 'COPY orders (id, customer_id, total, status) FROM STDIN;',
    params: null,
    writes: true,
    entries: [{ cls: 'WRITE', command: 'COPY', rows: 0 }],
  }),
  (r) => {
    const params = [r.pick(NOTES), String(r.int(1, 90000))];
    const entry: AuditEntry = { cls: 'WRITE', command: 'UPDATE', objectType: 'TABLE', objectName: 'public.patients', rows: 1 };
    return {
      tag: 'UPDATE',
      text: 'UPDATE patients SET note = $1 WHERE id = $2',
      params,
      writes: true,
      entries: [{ type: 'OBJECT', ...entry }, entry],
    };
  },
];
