import { z } from 'zod';

/** Options of the DAS collector (`ctx.options`), strict: unknown keys fail. */
export const dasOptionsSchema = z.strictObject({
  resourceId: z
    .string()
    .regex(/^(cluster|db)-[A-Za-z0-9]+$/, 'a DAS resource id looks like cluster-ABC123 or db-ABC123')
    .optional()
    .describe(
      'Resource id the data keys are bound to (DbClusterResourceId cluster-…, or DbiResourceId db-… for an instance stream). ' +
        'Default: taken from the stream name aws-rds-das-<resource id>. Required for JSON Lines input.',
    ),
  excludeUsers: z
    .array(z.string())
    .default([])
    .describe('Users whose events are dropped (counted as skipped). AWS samples drop rdsadmin, the RDS management role.'),
  users: z.array(z.string()).optional().describe('When set, only events of these users are kept; others are counted as skipped.'),
  databases: z.array(z.string()).optional().describe('When set, only events in these databases are kept; others are counted as skipped.'),
  concurrency: z.number().int().min(1).max(64).default(8).describe('Records decrypted at once.'),
});

/** Validated DAS collector options. */
export type DasOptions = z.infer<typeof dasOptionsSchema>;

/** Parses collector options, throwing a readable message when they are wrong. */
export function parseDasOptions(options: unknown): DasOptions {
  const result = dasOptionsSchema.safeParse(options ?? {});
  if (!result.success) throw new Error(`invalid das collector options:\n${z.prettifyError(result.error)}`);
  return result.data;
}

/** The filter sets of validated options. */
export function filtersOf(options: DasOptions) {
  return {
    excludeUsers: new Set(options.excludeUsers),
    users: options.users ? new Set(options.users) : undefined,
    databases: options.databases ? new Set(options.databases) : undefined,
  };
}
