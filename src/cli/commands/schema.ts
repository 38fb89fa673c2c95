import { parseArgs } from 'node:util';
import { isS3Url, parseS3Url } from '../../lake/s3-url.js';
import { ALERT_FIELDS, ALERT_PARTITION_KEYS, athenaAlertsDdl } from '../../rules/alert-schema.js';
import { DEFAULT_PROJECTION_START } from '../../schema/athena.js';
import { athenaEventsDdl, auditEventJsonSchema, EVENTS_TABLE, glueTableJson, type LakeTable } from '../../schema/index.js';
import { type Command, EXIT, UsageError } from '../command.js';
import { isCalendarDate } from '../day-options.js';

const HELP = `Usage: auditlake schema <json|athena|glue> [options]

Prints a schema derived from the one declaration of the audit event (schema v1) and the alert.

  json      JSON Schema of one event in its JSON form (schemas/audit-event.v1.json)
  athena    Athena CREATE EXTERNAL TABLE for the lake, with partition projection on
            source and event_date (schemas/athena/audit_events.sql)
  glue      the same table as a Glue TableInput (schemas/glue/audit_events.json), for
            aws glue create-table --database-name <db> --table-input file://<file>;
            with --database, the whole document for aws glue create-table --cli-input-json

Options (athena, glue):
  --location <s3://bucket/prefix>   lake root in S3 (default: a placeholder to edit)
  --database <name>                 Glue database the table belongs to
  --table <name>                    audit_events (default) or audit_alerts
  --projection-start <YYYY-MM-DD>   first event_date Athena's partition projection covers
                                    (default ${DEFAULT_PROJECTION_START}; events dated earlier are invisible in Athena)

Athena reads timestamp columns at millisecond precision; the Parquet files hold microseconds.
  -h, --help                        show this help
`;

/** The alerts table: `<root>/alerts/event_date=<YYYY-MM-DD>/`, columns from the alert's declaration. */
export const ALERTS_TABLE: LakeTable = {
  name: 'audit_alerts',
  folder: 'alerts',
  description: 'auditlake alerts raised by rules over audit events',
  fields: ALERT_FIELDS,
  partitions: ALERT_PARTITION_KEYS,
};

const TABLES: Record<string, LakeTable> = { audit_events: EVENTS_TABLE, audit_alerts: ALERTS_TABLE };

/** Athena reads tables from S3 only: `--location` must be `s3://bucket/prefix` (a local path is refused). */
function checkLocation(location: string): void {
  if (!isS3Url(location)) throw new UsageError(`--location ${location}: expected s3://bucket/prefix (Athena reads tables from S3 only)`);
  try {
    parseS3Url(location);
  } catch (e) {
    throw new UsageError(`--location ${(e as Error).message}`, { cause: e });
  }
}

/** `auditlake schema json|athena|glue`. */
export const schemaCommand: Command = {
  name: 'schema',
  summary: 'print the event schema as JSON Schema, Athena DDL or a Glue table',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        location: { type: 'string' },
        database: { type: 'string' },
        table: { type: 'string', default: 'audit_events' },
        'projection-start': { type: 'string' },
      },
    });
    const [kind] = positionals;
    const table = TABLES[values.table as string];
    if (!table) throw new UsageError(`--table ${values.table}: expected ${Object.keys(TABLES).join(' or ')}`);
    const projectionStart = values['projection-start'];
    if (projectionStart !== undefined && !isCalendarDate(projectionStart))
      throw new UsageError(`--projection-start ${projectionStart}: expected a calendar date YYYY-MM-DD`);
    if (values.location !== undefined) checkLocation(values.location);
    if (values.database !== undefined && !/^[A-Za-z0-9_]+$/.test(values.database))
      throw new UsageError(`--database ${values.database}: expected letters, digits and underscores (a Glue database name)`);
    const options = { location: values.location, database: values.database, projectionStart };
    if (kind === 'json') io.out(`${JSON.stringify(auditEventJsonSchema(), null, 2)}\n`);
    else if (kind === 'athena') io.out(table === EVENTS_TABLE ? athenaEventsDdl(options) : athenaAlertsDdl(options));
    else if (kind === 'glue') io.out(glueTableJson(table, options));
    else throw new UsageError(kind ? `unknown schema kind ${kind}: expected json, athena or glue` : 'which schema? json, athena or glue');
    return EXIT.ok;
  },
};
