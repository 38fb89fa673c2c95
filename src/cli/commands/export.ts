import { parseArgs } from 'node:util';
import { DEFAULT_SOURCES, exportOcsfFiles, exportOcsfLines, type OcsfFormat } from '../../export/ocsf/export.js';
import { OCSF_VERSION } from '../../export/ocsf/map.js';
import { type Command, EXIT, UsageError } from '../command.js';
import { periodOption } from '../day-options.js';
import { openLakeForReading, openStorage } from '../lake-options.js';
import { outputSink } from '../output.js';

const HELP = `Usage: auditlake export ocsf --lake <dir|s3://...> --out <dir|s3://...|-> [options]

Writes the lake's events as OCSF ${OCSF_VERSION} (the newest version Amazon Security Lake takes from
custom sources): CONNECT, DISCONNECT and AUTH_FAILURE as Authentication (class 3002), every other
event as Datastore Activity (6005). One Security Lake custom source per class, in its layout:

  <out>/ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/auditlake-<YYYYMMDD>.parquet

Parquet files are ZSTD-compressed with rows sorted by time; --format jsonl writes JSON lines in the
same layout for log forwarders (Splunk, Elastic, Vector), and --out - writes them to stdout. A day is
written as one file per class named after the day, so exporting a day again replaces it.

Options:
  --lake <dir>              lake root: a folder or s3://bucket/prefix
  --out <dir>               a folder, s3://bucket (the Security Lake bucket), or - for stdout (jsonl)
  --since <YYYY-MM-DD>      first day (UTC, inclusive; or today, yesterday; default: first day)
  --until <YYYY-MM-DD>      last day (UTC, inclusive; default: the last day with events)
  --format parquet|jsonl    default parquet
  --region <region>         region= in the layout and cloud.region (default: AWS_REGION)
  --account-id <id>         accountId= in the layout and cloud.account.uid (12 digits)
  --auth-source <name>      custom source of the Authentication files (default ${DEFAULT_SOURCES.authentication})
  --datastore-source <name> custom source of the Datastore Activity files (default ${DEFAULT_SOURCES.datastore})
  --json                    print the summary as one JSON object
  -h, --help                show this help

Example:
  auditlake export ocsf --lake s3://audit-lake/auditlake --out s3://aws-security-data-lake-eu-west-1-abc123 \\
    --region eu-west-1 --account-id 123456789012 --since 2024-05-01 --until 2024-05-01
`;

/** A custom source name as Security Lake takes it (at most 20 characters). */
function sourceName(value: string, option: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,20}$/.test(value)) throw new UsageError(`${option} ${value}: expected 1 to 20 letters, digits, - _ . or :`);
  return value;
}

/** `auditlake export`. */
export const exportCommand: Command = {
  name: 'export',
  summary: 'export the lake as OCSF (Parquet for Amazon Security Lake, or JSON lines for SIEMs)',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        lake: { type: 'string' },
        out: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        format: { type: 'string', default: 'parquet' },
        region: { type: 'string' },
        'account-id': { type: 'string' },
        'auth-source': { type: 'string', default: DEFAULT_SOURCES.authentication },
        'datastore-source': { type: 'string', default: DEFAULT_SOURCES.datastore },
        json: { type: 'boolean', default: false },
      },
    });
    if (positionals.length !== 1 || positionals[0] !== 'ocsf') throw new UsageError('give the export format: auditlake export ocsf ...');
    const format = values.format as OcsfFormat;
    if (format !== 'parquet' && format !== 'jsonl') throw new UsageError(`--format ${values.format}: expected parquet or jsonl`);
    const period = periodOption(values);
    if (!values.out) throw new UsageError('--out <dir> is required (a folder, s3://bucket/prefix, or - for stdout)');
    const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    const accountId = values['account-id'];
    if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
      throw new UsageError(`--region ${region}: expected an AWS region such as eu-west-1`);
    if (accountId !== undefined && !/^\d{12}$/.test(accountId)) throw new UsageError(`--account-id ${accountId}: expected 12 digits`);
    const lake = await openLakeForReading(values.lake);

    if (values.out === '-') {
      if (format !== 'jsonl') throw new UsageError('--out - writes JSON lines: add --format jsonl');
      await exportOcsfLines(lake, outputSink(io), period, { region, accountId });
      return EXIT.ok;
    }
    if (!region) throw new UsageError('--region is required for the Security Lake layout (or set AWS_REGION)');
    if (!accountId) throw new UsageError('--account-id is required for the Security Lake layout');
    const out = openStorage(values.out, '--out');
    const files = await exportOcsfFiles(lake, out, {
      period,
      format,
      region,
      accountId,
      sources: {
        authentication: sourceName(values['auth-source'] as string, '--auth-source'),
        datastore: sourceName(values['datastore-source'] as string, '--datastore-source'),
      },
    });
    const events = files.reduce((n, f) => n + f.rows, 0);
    if (values.json) io.out(`${JSON.stringify({ ocsf_version: OCSF_VERSION, events, files })}\n`);
    else {
      for (const f of files) io.err(`  ${f.key}  ${f.rows} events\n`);
      io.err(
        `auditlake export: ${events} events as OCSF ${OCSF_VERSION} in ${files.length} file${files.length === 1 ? '' : 's'} under ${out.url}\n`,
      );
    }
    return EXIT.ok;
  },
};
