import { parseArgs } from 'node:util';
import { DEFAULT_REPORT_SETTINGS, findReport, REPORTS, type ReportSettings } from '../../reports/definitions.js';
import { type TextFormat, writeRows } from '../../reports/format.js';
import { writeHtmlReport } from '../../reports/html.js';
import { openLakeSession } from '../../reports/lake-session.js';
import { runReport } from '../../reports/run.js';
import { fileSink, type TextSink } from '../../reports/sink.js';
import { type Command, EXIT, UsageError } from '../command.js';
import { periodOption } from '../day-options.js';
import { openLakeForReading } from '../lake-options.js';
import { outputSink } from '../output.js';
import { startProgress } from '../progress.js';
import { TZ_OPTION, timeZoneOption, tzHelp } from '../time-zone.js';

const width = Math.max(...REPORTS.map((r) => r.name.length));
const HELP = `Usage: auditlake report <name>|all --lake <dir|s3://bucket/prefix> [options]

Compliance reports over the lake, for auditors and reviews. Each report is one SQL text that runs here
with DuckDB and, unchanged but for its two period parameters, in Athena (the saved queries of the
auditlake workgroup). Days and hours are UTC days and hours; times print in UTC unless --tz names
a zone. On a terminal, progress shows on stderr (not with --format json).

Reports:
${REPORTS.map((r) => `  ${r.name.padEnd(width)}  ${r.description}`).join('\n')}
  ${'all'.padEnd(width)}  every report in one self-contained HTML file with charts (--format html)

Options:
  --lake <dir>                 lake root: a folder or s3://bucket/prefix
  --since <YYYY-MM-DD>         first day of the period (UTC, inclusive; or today, yesterday; default: the first day with events)
  --until <YYYY-MM-DD>         last day of the period (UTC, inclusive; default: the last day with events)
  --format <f>                 table (default), csv, json (an array of row objects) or html
  --out <file>                 write to this file instead of stdout
  --privileged-user <name>     a privileged role for privileged-sessions; repeatable (default: postgres, rdsadmin)
  --burst-threshold <n>        a failed-login burst is more than n failures in an hour (default ${DEFAULT_REPORT_SETTINGS.burstThreshold})
  --large-read-rows <n>        reads of at least n rows count as data exports (default ${DEFAULT_REPORT_SETTINGS.largeReadRows})
${tzHelp(31)}
  -h, --help                   show this help

Examples:
  auditlake report failed-logins --lake ./lake --since 2024-05-01 --until 2024-05-31
  auditlake report privilege-changes --lake s3://bucket/audit --format csv --out changes.csv
  auditlake report all --lake ./lake --format html --out report.html
`;

const FORMATS = ['table', 'csv', 'json', 'html'] as const;

function wholeOption(value: string | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${option} ${value}: expected a whole number`);
  return n;
}

/** `auditlake report`. */
export const reportCommand: Command = {
  name: 'report',
  summary: 'compliance reports (failed logins, privilege changes, exports, ...) as table, CSV, JSON or HTML',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        lake: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        format: { type: 'string' },
        out: { type: 'string' },
        'privileged-user': { type: 'string', multiple: true },
        'burst-threshold': { type: 'string' },
        'large-read-rows': { type: 'string' },
        ...TZ_OPTION,
      },
    });
    const timeZone = timeZoneOption(values.tz);
    if (positionals.length !== 1) throw new UsageError(`give one report name: ${REPORTS.map((r) => r.name).join(', ')} or all`);
    const name = positionals[0];
    const report = findReport(name);
    if (!report && name !== 'all') throw new UsageError(`unknown report ${name}: expected ${REPORTS.map((r) => r.name).join(', ')} or all`);
    const format = (values.format ?? (name === 'all' && values.out?.endsWith('.html') ? 'html' : 'table')) as (typeof FORMATS)[number];
    if (!FORMATS.includes(format)) throw new UsageError(`--format ${values.format}: expected table, csv, json or html`);
    if (name === 'all' && format !== 'html' && format !== 'table')
      throw new UsageError(`report all writes html (or table); use one report's name for ${format}`);
    const period = periodOption(values);
    const settings: ReportSettings = {
      privilegedUsers:
        values['privileged-user']?.flatMap((u) => u.split(',').map((x) => x.trim())).filter(Boolean) ??
        DEFAULT_REPORT_SETTINGS.privilegedUsers,
      burstThreshold: wholeOption(values['burst-threshold'], DEFAULT_REPORT_SETTINGS.burstThreshold, '--burst-threshold'),
      largeReadRows: wholeOption(values['large-read-rows'], DEFAULT_REPORT_SETTINGS.largeReadRows, '--large-read-rows'),
    };
    const storage = await openLakeForReading(values.lake);

    const session = await openLakeSession(storage);
    const connection = session.connection;
    const progress = startProgress(io, { json: format === 'json', ticking: true });
    const file = values.out ? fileSink(values.out) : null;
    // Rows written to a terminal's stdout must not land on the status line.
    const out = outputSink(io);
    const sink: TextSink = file ?? {
      write(text) {
        progress.clear();
        return out.write(text);
      },
      close: () => out.close(),
    };
    const started = (r: string, i: number, n: number) => progress.update(`report ${i + 1}/${n} ${r}`, true);
    let rows = 0;
    try {
      if (format === 'html') {
        if (name !== 'all') throw new UsageError('--format html is for report all');
        const options = { period, settings, lakeName: storage.url, generatedAt: new Date(), timeZone, onReport: started };
        rows = await writeHtmlReport(connection, options, sink);
      } else {
        const chosen = report ? [report] : REPORTS;
        for (const [i, r] of chosen.entries()) {
          started(r.name, i, chosen.length);
          if (!report) await sink.write(`\n== ${r.title} (${r.name}) ==\n`);
          rows += await writeRows(format as TextFormat, await runReport(connection, r, period, settings, timeZone), sink);
        }
      }
      await sink.close();
      const what = `${name === 'all' ? `${REPORTS.length} reports` : name}: ${rows.toLocaleString('en-US')} row${rows === 1 ? '' : 's'}`;
      if (values.out) {
        progress.done();
        io.err(`auditlake report: wrote ${values.out} (${what})\n`);
      } else progress.done(`report ${what}`);
      return EXIT.ok;
    } catch (e) {
      progress.done();
      throw e;
    } finally {
      await session.close();
    }
  },
};
