import { UsageError } from './command.js';

/** The DAS collector's options on the command line. */
export const DAS_OPTIONS = {
  'das-resource-id': { type: 'string' },
  'das-exclude-user': { type: 'string', multiple: true },
  'das-user': { type: 'string', multiple: true },
  'das-database': { type: 'string', multiple: true },
} as const;

/** Help lines of {@link DAS_OPTIONS}. */
export const DAS_HELP = `Aurora Database Activity Streams (--format das, or --kinesis-stream):
  --das-resource-id <id>   the cluster (cluster-...) or instance (db-...) resource id the data keys are
                           bound to; default from the stream name aws-rds-das-<id>, required for JSONL files
  --das-exclude-user <u>   drop (and count) this user's events, e.g. rdsadmin; repeatable
  --das-user <u>           keep only these users' events (others counted); repeatable
  --das-database <d>       keep only events in these databases (others counted); repeatable`;

type DasValues = { 'das-resource-id'?: string; 'das-exclude-user'?: string[]; 'das-user'?: string[]; 'das-database'?: string[] };

/** The DAS collector options the flags give (the collector validates them strictly). */
export function dasOptionsFrom(values: DasValues): Record<string, unknown> {
  const id = values['das-resource-id'];
  if (id !== undefined && !/^(cluster|db)-[A-Za-z0-9]+$/.test(id)) {
    throw new UsageError(`--das-resource-id ${id}: a DAS resource id looks like cluster-ABC123 or db-ABC123 (not the cluster name)`);
  }
  const options: Record<string, unknown> = {};
  if (id) options.resourceId = id;
  if (values['das-exclude-user']) options.excludeUsers = values['das-exclude-user'];
  if (values['das-user']) options.users = values['das-user'];
  if (values['das-database']) options.databases = values['das-database'];
  return options;
}
