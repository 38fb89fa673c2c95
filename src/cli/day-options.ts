import { isDay, type Period, resolveDay } from '../reports/run.js';
import { UsageError } from './command.js';

/** True for a real calendar day written YYYY-MM-DD (2024-02-29 yes, 2024-13-45 and 2023-02-29 no): `--date`, `--projection-start`. */
export const isCalendarDate = isDay;

/** A `--since`/`--until` day option: `YYYY-MM-DD`, `today` or `yesterday` (UTC); a usage error otherwise. */
export function dayOption(value: string | undefined, option: string): string | undefined {
  if (value === undefined) return undefined;
  const day = resolveDay(value);
  if (day === null) throw new UsageError(`${option} ${value}: expected a day, YYYY-MM-DD (or today, yesterday)`);
  return day;
}

/** The period of `--since` and `--until` (each inclusive, either open), refused when it runs backwards. */
export function periodOption(values: { since?: string; until?: string }): Period {
  const period: Period = { since: dayOption(values.since, '--since'), until: dayOption(values.until, '--until') };
  if (period.since && period.until && period.since > period.until)
    throw new UsageError(`--since ${period.since} is after --until ${period.until}`);
  return period;
}
