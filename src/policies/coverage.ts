import type { Policy } from './policy-schema.js';

/** The period a coverage report covers: `since` inclusive, `until` exclusive, ISO-8601 times. */
export interface CoveragePeriod {
  since?: string;
  until?: string;
}

const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/**
 * SQL (DuckDB, over the `audit_events` view) counting the events each policy id tagged in the period.
 * The `event_date` bounds let the engine skip whole partitions.
 */
export function coverageSql(period: CoveragePeriod): string {
  const where: string[] = ['len(policy_ids) > 0'];
  if (period.since) {
    where.push(`event_time >= CAST(${literal(period.since)} AS TIMESTAMPTZ)`);
    where.push(`event_date >= strftime(CAST(${literal(period.since)} AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m-%d')`);
  }
  if (period.until) {
    where.push(`event_time < CAST(${literal(period.until)} AS TIMESTAMPTZ)`);
    where.push(`event_date <= strftime(CAST(${literal(period.until)} AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m-%d')`);
  }
  return `SELECT policy_id, count(*) AS events, count(DISTINCT db_user) AS users,
  strftime(min(event_time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS first_event,
  strftime(max(event_time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS last_event
FROM (SELECT unnest(policy_ids) AS policy_id, event_time, db_user FROM audit_events WHERE ${where.join(' AND ')})
GROUP BY policy_id ORDER BY policy_id`;
}

/** One line of the coverage report. */
export interface CoverageRow {
  policy_id: string;
  events: number;
  users: number;
  first_event: string | null;
  last_event: string | null;
  /** False for an id found in the lake that no current policy has (a retired or renamed policy). */
  current: boolean;
}

/** Every current policy by id (zero events when none matched), then ids found in the lake that no current policy has. */
export function coverageReport(policies: readonly Policy[], rows: readonly Record<string, unknown>[]): CoverageRow[] {
  const found = new Map(rows.map((r) => [String(r.policy_id), r]));
  const sorted = [...policies].sort((a, b) => (a.id < b.id ? -1 : 1));
  const out: CoverageRow[] = sorted.map((p) => {
    const r = found.get(p.id);
    return {
      policy_id: p.id,
      events: Number(r?.events ?? 0),
      users: Number(r?.users ?? 0),
      first_event: (r?.first_event as string | undefined) ?? null,
      last_event: (r?.last_event as string | undefined) ?? null,
      current: true,
    };
  });
  const ids = new Set(policies.map((p) => p.id));
  for (const [id, r] of found) {
    if (ids.has(id)) continue;
    out.push({
      policy_id: id,
      events: Number(r.events),
      users: Number(r.users),
      first_event: r.first_event as string,
      last_event: r.last_event as string,
      current: false,
    });
  }
  return out;
}
