import { parseArgs } from 'node:util';
import { openDuckDb } from '../../lake/duckdb.js';
import { createEventsView } from '../../lake/query.js';
import { queryAlerts } from '../../pipeline/lake-alerts.js';
import type { Alert } from '../../rules/alert-schema.js';
import { alertToJson } from '../../rules/outputs/sink.js';
import { compileRuleSql } from '../../rules/sql.js';
import { formatMicrosInZone } from '../../schema/index.js';
import { type Command, EXIT, UsageError } from '../command.js';
import { formatTable } from '../format-table.js';
import { openLakeForReading } from '../lake-options.js';
import { writeOut } from '../output.js';
import { startProgress } from '../progress.js';
import { TZ_OPTION, timeZoneOption, tzHelp } from '../time-zone.js';
import { BUILTIN_RULES, loadRulesForCli } from './rules.js';

const HELP = `Usage: auditlake hunt --lake <dir> [<rules dir or file>] [options]

Runs alert rules over history: each rule is compiled to SQL (the same alerts the streaming
engine raises on ingest) and run with DuckDB over the lake's audit_events view.
Without a rules path the built-in pack (${BUILTIN_RULES}) is used.

Options:
  --lake <dir>             lake root (a folder written by auditlake ingest)
  --params <file>          param overrides: params: {<rule id>: {<param>: value}}
  --rule <id>              only this rule (repeatable)
  --since <time>           only events at or after this ISO-8601 time
  --until <time>           only events before this ISO-8601 time
  --format table|jsonl     output format (default: table)
${tzHelp(27)}
  -h, --help               show this help
`;

/** An alert as JSON, its times in `timeZone` (ISO-8601 with the offset); `event_date` stays the UTC day. */
function zonedAlert(alert: Alert, timeZone: string): Record<string, unknown> {
  const json = alertToJson(alert);
  if (timeZone === 'UTC') return json;
  for (const key of ['alert_time', 'window_start', 'window_end'] as const) json[key] = formatMicrosInZone(alert[key], timeZone);
  return json;
}

/** `auditlake hunt`. */
export const huntCommand: Command = {
  name: 'hunt',
  summary: 'run alert rules as SQL over the lake (history)',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        lake: { type: 'string' },
        params: { type: 'string' },
        rule: { type: 'string', multiple: true },
        since: { type: 'string' },
        until: { type: 'string' },
        format: { type: 'string', default: 'table' },
        ...TZ_OPTION,
      },
    });
    const timeZone = timeZoneOption(values.tz);
    if (positionals.length > 1) throw new UsageError('give at most one rules path');
    if (values.format !== 'table' && values.format !== 'jsonl') throw new UsageError(`--format ${values.format}: expected table or jsonl`);
    for (const option of ['since', 'until'] as const) {
      const v = values[option];
      if (v !== undefined && Number.isNaN(Date.parse(v))) throw new UsageError(`--${option} ${v}: expected an ISO-8601 time`);
    }
    const storage = await openLakeForReading(values.lake);
    let rules: Awaited<ReturnType<typeof loadRulesForCli>>;
    try {
      rules = await loadRulesForCli(positionals[0], values.params, values.rule);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      io.err(`${(e as Error).message}\n`);
      return EXIT.failed;
    }
    const connection = await openDuckDb({ memoryLimit: '1GB', threads: 2 });
    const alerts: Alert[] = [];
    const progress = startProgress(io, { json: values.format === 'jsonl', ticking: true });
    try {
      await createEventsView(connection, storage);
      for (const [i, rule] of rules.entries()) {
        progress.update(`rule ${i + 1}/${rules.length} ${rule.id}, ${alerts.length} alert(s) so far`, true);
        alerts.push(
          ...(await queryAlerts(connection, compileRuleSql(rule, { dialect: 'duckdb', since: values.since, until: values.until }))),
        );
      }
    } finally {
      progress.done();
      connection.closeSync();
    }
    alerts.sort((a, b) => a.alert_time - b.alert_time || a.alert_id.localeCompare(b.alert_id));
    const rows = alerts.map((a) => zonedAlert(a, timeZone));
    if (values.format === 'jsonl') for (const r of rows) await writeOut(io, `${JSON.stringify(r)}\n`);
    else {
      const columns = ['alert_time', 'severity', 'rule_id', 'group_key', 'event_count', 'title'];
      await writeOut(io, formatTable(columns, rows));
      io.err(`${alerts.length} alert(s) from ${rules.length} rule(s)\n`);
    }
    return EXIT.ok;
  },
};
