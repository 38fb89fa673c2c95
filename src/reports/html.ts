import type { DuckDBConnection } from '@duckdb/node-api';
import { CLASS_COLORS, escapeHtml, eventsPerDayChart, perDayChart, topUsersChart } from './charts.js';
import { findReport, REPORTS, type ReportSettings } from './definitions.js';
import { cellText } from './format.js';
import type { PlainRow } from './lake-session.js';
import { daysWithEvents, type Period, runReport } from './run.js';
import type { TextSink } from './sink.js';

/**
 * `auditlake report all --format html`: one self-contained HTML file an auditor can open offline or
 * print to PDF: the period, totals, charts as inline SVG, and every report as a table. No script, no
 * external stylesheet, font or image. Tables stream row by row; only the chart data (one row per day
 * and class, and the ten busiest users) is held in memory.
 */

const STYLE = `
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 4px; border-bottom: 1px solid #ccc; }
h3 { font-size: 14px; margin: 16px 0 4px; }
p.meta, p.desc { color: #555; font-size: 12px; margin: 2px 0 8px; }
dl.totals { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 12px 0; }
dl.totals div { min-width: 120px; } dl.totals dt { font-size: 11px; color: #555; } dl.totals dd { margin: 0; font-size: 20px; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 11px; }
th, td { border: 1px solid #ddd; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.text { word-break: break-word; max-width: 420px; } p.count { font-size: 11px; color: #555; }
figure { margin: 8px 0 16px; } figcaption { font-size: 12px; color: #555; }
@page { size: A4 landscape; margin: 12mm; }
@media print { body { margin: 0; } thead { display: table-header-group; } tr, figure { break-inside: avoid; } h2 { break-after: avoid; } }
`;

/** Columns whose values are counts, right-aligned. */
const NUMERIC = /^(events|attempts|reads|writes|ddl_role_changes|failures|statements|row_count|distinct_users|distinct_clients)$/;
/** Columns with long free text. */
const TEXT = /^(statement_text|sources|sqlstates)$/;

/** What the HTML report needs besides the lake. */
export interface HtmlReportOptions {
  period: Period;
  settings: ReportSettings;
  /** The lake as the user named it, shown in the header. */
  lakeName: string;
  /** When the report was made (shown in UTC). */
  generatedAt: Date;
  /** The zone the tables print times in (default UTC); days and hours are UTC whatever it is. */
  timeZone?: string;
  /** Called as each report starts (`index` from 0), for progress. */
  onReport?(name: string, index: number, count: number): void;
}

async function collect(connection: DuckDBConnection, name: string, options: HtmlReportOptions, limit = Infinity): Promise<PlainRow[]> {
  const stream = await runReport(connection, findReport(name)!, options.period, options.settings, options.timeZone);
  const rows: PlainRow[] = [];
  for await (const batch of stream.batches) {
    rows.push(...batch.slice(0, limit - rows.length));
    if (rows.length >= limit) break;
  }
  return rows;
}

function totals(summary: PlainRow[], failed: PlainRow[]): string {
  const sum = (rows: PlainRow[], key: string) => rows.reduce((n, r) => n + Number(r[key] ?? 0), 0);
  const items: [string, string, number][] = [
    ['events', 'Events', sum(summary, 'events')],
    ['days', 'Days with events', new Set(summary.map((r) => r.event_date)).size],
    ['failed_logins', 'Failed logins', sum(failed, 'attempts')],
  ];
  return `<dl class="totals">${items.map(([key, label, n]) => `<div><dt>${label}</dt><dd data-total="${key}">${n}</dd></div>`).join('')}</dl>`;
}

function charts(summary: PlainRow[], topUsers: PlainRow[]): string {
  const counts = summary.map((r) => ({ day: String(r.event_date), eventClass: String(r.event_class), events: Number(r.events) }));
  const days = [...new Set(counts.map((c) => c.day))].sort();
  const failures = days.map((day) => ({
    day,
    value: counts.find((c) => c.day === day && c.eventClass === 'AUTH_FAILURE')?.events ?? 0,
  }));
  const users = topUsers.map((r) => ({ user: r.db_user === null ? '(no user)' : String(r.db_user), events: Number(r.events) }));
  if (days.length === 0) return '<p class="desc">No events in this period.</p>';
  return `<h2>Charts</h2>
<figure>${eventsPerDayChart(counts)}<figcaption>Events per day (days with events), by event class.</figcaption></figure>
<figure>${perDayChart('Failed logins per day', failures, CLASS_COLORS.AUTH_FAILURE, 'failed logins')}<figcaption>Failed logins (AUTH_FAILURE events) per day with events.</figcaption></figure>
<figure>${topUsersChart(users)}<figcaption>The ${users.length} users with the most events.</figcaption></figure>`;
}

/** Writes the whole document to `sink`; returns the number of table rows written. */
export async function writeHtmlReport(connection: DuckDBConnection, options: HtmlReportOptions, sink: TextSink): Promise<number> {
  const days = await daysWithEvents(connection, options.period);
  const summary = await collect(connection, 'summary', options);
  const failed = await collect(connection, 'failed-logins', options);
  const topUsers = await collect(connection, 'user-activity', options, 10);
  const period = `${options.period.since ?? days?.first ?? '(no events)'} to ${options.period.until ?? days?.last ?? '(no events)'}`;
  const s = options.settings;
  await sink.write(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Database audit report ${escapeHtml(period)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>Database audit report</h1>
<p class="meta">Period: <strong data-period>${escapeHtml(period)}</strong> (UTC days, inclusive) · Lake: ${escapeHtml(options.lakeName)} · Generated ${escapeHtml(options.generatedAt.toISOString().replace('T', ' ').slice(0, 19))} UTC by auditlake${options.timeZone && options.timeZone !== 'UTC' ? ` · Times in ${escapeHtml(options.timeZone)}` : ''}</p>
<p class="meta">Privileged users: ${escapeHtml(s.privilegedUsers.join(', ') || '(none)')} · Failed-login burst: more than ${s.burstThreshold} in one clock hour · Large read: ${s.largeReadRows} rows or more</p>
${totals(summary, failed)}
${charts(summary, topUsers)}
`);
  let total = 0;
  for (const [index, report] of REPORTS.entries()) {
    options.onReport?.(report.name, index, REPORTS.length);
    const stream = await runReport(connection, report, options.period, options.settings, options.timeZone);
    await sink.write(`<h2 id="${report.name}">${escapeHtml(report.title)}</h2>
<p class="desc">${escapeHtml(report.description)}</p>
<table data-report="${report.name}"><thead><tr>${stream.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>
`);
    let count = 0;
    for await (const rows of stream.batches) {
      count += rows.length;
      await sink.write(
        rows
          .map(
            (r) =>
              `<tr>${stream.columns
                .map(
                  (c) => `<td${NUMERIC.test(c) ? ' class="num"' : TEXT.test(c) ? ' class="text"' : ''}>${escapeHtml(cellText(r[c]))}</td>`,
                )
                .join('')}</tr>\n`,
          )
          .join(''),
      );
    }
    await sink.write(`</tbody></table>\n<p class="count" data-rows="${report.name}">${count} row${count === 1 ? '' : 's'}</p>\n`);
    total += count;
  }
  await sink.write('</body></html>\n');
  return total;
}
