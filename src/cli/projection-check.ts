import type { BatchObserver } from '../pipeline/ingest.js';
import { DEFAULT_PROJECTION_START } from '../schema/athena.js';

const DAY_MICROS = 86_400_000_000;

/** Events whose `event_date` Athena's partition projection does not cover, as counted by {@link projectionCheck}. */
export interface OutsideProjection {
  /** The projection's first day (`--projection-start`). */
  start: string;
  /** Events dated before `start`. */
  before_start: number;
  /** Events dated after today (UTC): invisible until that day comes, as the projection ends at NOW. */
  future: number;
  /** First and last `event_date` among them. */
  first_date: string | null;
  last_date: string | null;
}

/**
 * Counts events Athena will not see: partition projection covers `event_date` from `start` to today, so a
 * backfill of older logs or events dated in the future (a wrong clock) are in the lake but invisible to
 * Athena. A batch observer: it raises no alerts, it only counts, for the run summary.
 */
export function projectionCheck(start = DEFAULT_PROJECTION_START): { observe: BatchObserver; result: () => OutsideProjection | null } {
  const startDay = Date.parse(`${start}T00:00:00Z`) * 1000;
  const tomorrow = (Math.floor(Date.now() / 86_400_000) + 1) * DAY_MICROS;
  let before = 0;
  let future = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  const count = (t: number, n: number) => {
    if (t >= startDay && t < tomorrow) return;
    if (t < startDay) before += n;
    else future += n;
    if (t < first) first = t;
    if (t > last) last = t;
  };
  const observe: BatchObserver = (batch) => {
    if (batch.encoded) {
      // Encoded on a parse worker: rows come by partition date, which is what the projection covers (an
      // event too large to store is in the quarantine, not the lake, and not counted here).
      for (const part of batch.encoded.parts) count(Date.parse(`${part.date}T00:00:00Z`) * 1000, part.rows);
      return 0;
    }
    for (const e of batch.events) count(e.event_time, 1);
    return 0;
  };
  observe.encodedSuffices = true;
  const date = (micros: number) => new Date(Math.floor(micros / 1000)).toISOString().slice(0, 10);
  return {
    observe,
    result: () => (before + future === 0 ? null : { start, before_start: before, future, first_date: date(first), last_date: date(last) }),
  };
}

/** The summary line for events outside the projection. */
export function formatOutsideProjection(o: OutsideProjection): string {
  const parts = [];
  if (o.before_start) parts.push(`${o.before_start.toLocaleString('en-US')} dated before ${o.start}`);
  if (o.future) parts.push(`${o.future.toLocaleString('en-US')} dated after today`);
  return `  WARNING not visible in Athena (partition projection covers ${o.start} to today): ${parts.join(', ')}; event dates ${o.first_date} to ${o.last_date}. They are in the lake (DuckDB sees them); for older events create the table with auditlake schema athena --projection-start ${o.first_date}\n`;
}
