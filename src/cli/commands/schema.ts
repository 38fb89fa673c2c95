import { parseArgs } from 'node:util';
import { athenaEventsDdl, auditEventJsonSchema } from '../../schema/index.js';
import { type Command, EXIT, UsageError } from '../command.js';

const HELP = `Usage: auditlake schema <json|athena> [options]

Prints a schema derived from the one declaration of the audit event (schema v1).

  json      JSON Schema of one event in its JSON form (schemas/audit-event.v1.json)
  athena    Athena CREATE EXTERNAL TABLE for the lake, with partition projection on
            source and event_date (schemas/athena/audit_events.sql)

Options (athena):
  --location <s3://bucket/prefix>   lake root in S3 (default: a placeholder to edit)
  --database <name>                 Glue database to create the table in
  -h, --help                        show this help
`;

/** `auditlake schema json|athena`. */
export const schemaCommand: Command = {
  name: 'schema',
  summary: 'print the event schema as JSON Schema or Athena DDL',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { location: { type: 'string' }, database: { type: 'string' } },
    });
    const [kind] = positionals;
    if (kind === 'json') io.out(`${JSON.stringify(auditEventJsonSchema(), null, 2)}\n`);
    else if (kind === 'athena') io.out(athenaEventsDdl({ location: values.location, database: values.database }));
    else throw new UsageError(kind ? `unknown schema kind ${kind}: expected json or athena` : 'which schema? json or athena');
    return EXIT.ok;
  },
};
