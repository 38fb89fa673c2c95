import { DuckDBInstance } from '@duckdb/node-api';
import type { GroundTruth } from './csvlog-generator.js';

/**
 * Checks a run against the generator's ground truth: the CLI's JSON summary (records, events, events by
 * class, nothing quarantined) and what actually landed in the lake's Parquet files, read back by DuckDB.
 */

/** The part of `auditlake ingest --json` the benchmark reads. */
export interface IngestSummary {
  inputs: { input: string; error: string | null }[];
  records: number;
  events: number;
  quarantined: number;
  events_by_source: Record<string, Record<string, number>>;
  failed_inputs: number;
}

/** The summary printed on stdout: the last line that parses as JSON. */
export function parseSummary(stdout: string): IngestSummary | null {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      return JSON.parse(line) as IngestSummary;
    } catch {}
  }
  return null;
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
    if ((a[k] ?? 0) !== (b[k] ?? 0)) out.push(`${k} ${a[k] ?? 0} != ${b[k] ?? 0}`);
  return out;
}

/** Problems with a summary, none when it matches the truth. */
export function checkSummary(s: IngestSummary | null, truth: GroundTruth): string[] {
  if (!s) return ['no JSON summary on stdout'];
  const problems: string[] = [];
  if (s.records !== truth.records) problems.push(`records ${s.records} != ${truth.records} generated`);
  if (s.events !== truth.events) problems.push(`events ${s.events} != ${truth.events} generated`);
  if (s.quarantined !== 0) problems.push(`${s.quarantined} records quarantined`);
  if (s.failed_inputs !== 0) problems.push(`${s.failed_inputs} inputs failed`);
  const diff = sameCounts(s.events_by_source.pgaudit ?? {}, truth.byClass);
  if (diff.length) problems.push(`events by class (summary vs generated): ${diff.join(', ')}`);
  return problems;
}

let instance: DuckDBInstance | null = null;

async function query(sql: string): Promise<unknown[][]> {
  instance ??= await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRows() as unknown[][];
  } finally {
    connection.closeSync();
  }
}

const q = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Problems with the lake's Parquet files: their rows counted by DuckDB, by event class. */
export async function checkLake(lake: string, truth: GroundTruth): Promise<{ rows: number; problems: string[] }> {
  const glob = `${lake}/events/**/*.parquet`;
  let rows: unknown[][];
  try {
    rows = await query(`SELECT event_class, count(*) FROM read_parquet(${q(glob)}, hive_partitioning = false) GROUP BY 1`);
  } catch (e) {
    return { rows: 0, problems: [`cannot read ${glob}: ${(e as Error).message}`] };
  }
  const byClass = Object.fromEntries(rows.map(([c, n]) => [String(c), Number(n)]));
  const total = Object.values(byClass).reduce((a, b) => a + b, 0);
  const problems: string[] = [];
  if (total !== truth.events) problems.push(`Parquet holds ${total} events, ${truth.events} generated`);
  const diff = sameCounts(byClass, truth.byClass);
  if (diff.length) problems.push(`Parquet events by class (lake vs generated): ${diff.join(', ')}`);
  return { rows: total, problems };
}

/** Rows of one Parquet file. */
export async function parquetRows(path: string): Promise<number> {
  const [[n]] = await query(`SELECT count(*) FROM read_parquet(${q(path)})`);
  return Number(n);
}
