import { z } from 'zod';

/**
 * The audit policy format, validated strictly: unknown keys fail and every error names its field.
 * A policy says once what must be audited; `policy sql` turns it into pgAudit configuration and the
 * ingest stage tags (and, with `--policy-mode only`, selects) the events that satisfy it.
 */

/** Operations a policy can name; `ALL` stands for every one of them. */
export const OPERATIONS = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Operations PostgreSQL has column privileges for, so a policy with `columns` may name only these. */
export const COLUMN_OPERATIONS: ReadonlySet<Operation> = new Set(['SELECT', 'INSERT', 'UPDATE']);

// Unquoted PostgreSQL names fold to lower case; asking for that form keeps policy, SQL and log agree.
const IDENTIFIER = /^[a-z_][a-z0-9_$]*$/;
const identifier = z
  .string()
  .regex(IDENTIFIER, 'expected a lower-case SQL name (letters, digits, _ and $; PostgreSQL folds unquoted names to lower case)');

const names = (what: string) => z.array(identifier).min(1, `list at least one ${what}`);

export const policySchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]*$/, 'expected lower-case letters, digits, ".", "_" and "-", e.g. audit-salaries')
      .max(100)
      .describe('Unique id; the value events carry in policy_ids.'),
    description: z.string().optional().describe('What the policy is for, in words.'),
    table: z
      .string()
      .regex(/^[a-z_][a-z0-9_$]*\.[a-z_][a-z0-9_$]*$/, 'expected a schema-qualified lower-case table name, e.g. public.employees')
      .describe('The table audited, schema-qualified.'),
    columns: names('column').optional().describe('Only statements touching these columns (SELECT, INSERT, UPDATE).'),
    operations: z
      .array(z.enum([...OPERATIONS, 'ALL']))
      .min(1, 'list at least one operation')
      .describe('SELECT, INSERT, UPDATE, DELETE, TRUNCATE, or ALL.'),
    outcome: z.enum(['any', 'failed']).default('any').describe('any (default), or failed: only attempts that failed.'),
    error_codes: z
      .array(z.string().regex(/^[0-9A-Z]{5}$/, 'expected a five-character SQLSTATE, e.g. 42501'))
      .min(1)
      .optional()
      .describe('With outcome failed: only failures with these SQLSTATEs (default: any error).'),
    users: names('user').optional().describe('Only these database users.'),
    roles: names('role').optional().describe('Only members of these roles (from a `policy members` snapshot).'),
  })
  .superRefine((p, ctx) => {
    if (p.error_codes && p.outcome !== 'failed')
      ctx.addIssue({ code: 'custom', path: ['error_codes'], message: 'error_codes go with outcome: failed' });
    if (p.columns) {
      const ops = p.operations.includes('ALL') ? OPERATIONS : p.operations;
      const bad = ops.filter((op) => !COLUMN_OPERATIONS.has(op as Operation));
      if (bad.length > 0)
        ctx.addIssue({
          code: 'custom',
          path: ['columns'],
          message: `columns apply to SELECT, INSERT and UPDATE only (PostgreSQL has no column privilege for ${bad.join(', ')})`,
        });
    }
  });

/** A validated policy, with `ALL` expanded and the file it came from. */
export interface Policy {
  id: string;
  description?: string;
  /** `schema.table`. */
  table: string;
  columns?: string[];
  operations: Operation[];
  outcome: 'any' | 'failed';
  error_codes?: string[];
  users?: string[];
  roles?: string[];
  file: string;
}

/** The table's schema and name. */
export function splitTable(table: string): { schema: string; name: string } {
  const dot = table.indexOf('.');
  return { schema: table.slice(0, dot), name: table.slice(dot + 1) };
}
