/**
 * Timestamps travel as integer microseconds since the epoch (UTC): a JS `Date` keeps only
 * milliseconds, and DAS and the proxy give microseconds. 2^53 µs is year 2255, so a `number` is exact.
 */

const TIMESTAMP = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?\s*(Z|UTC|GMT|[+-]\d\d(?::?\d\d)?)?$/;

/**
 * Parses the timestamp forms PostgreSQL and AWS write: `2024-05-01 10:15:02.123 UTC` (csvlog, jsonlog),
 * `2024-05-01 10:15:02 UTC` (stderr `%t`), `2019-10-30 00:39:49.990579+00` (DAS), ISO-8601 with `Z`.
 * Returns microseconds since the epoch, or null when the text is not such a timestamp. A zone given
 * by a name other than UTC/GMT is refused: abbreviations like CST are ambiguous (set log_timezone=UTC).
 */
export function parseTimestampMicros(text: string): number | null {
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return null;
  const ms = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return null;
  const micros = frac ? Number(frac.slice(0, 6).padEnd(6, '0')) : 0;
  let offsetMinutes = 0;
  if (zone && zone !== 'Z' && zone !== 'UTC' && zone !== 'GMT') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
  }
  return (ms - offsetMinutes * 60_000) * 1000 + micros;
}

/** Now, in microseconds since the epoch (millisecond resolution). */
export function nowMicros(): number {
  return Date.now() * 1000;
}

/** `2024-05-01T10:15:02.123456Z`: ISO-8601 UTC with all six fractional digits. */
export function formatMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString(); // 2024-05-01T10:15:02.123Z
  const sub = String(micros - ms * 1000).padStart(3, '0');
  return `${iso.slice(0, 23)}${sub}Z`;
}

/** UTC calendar date (YYYY-MM-DD) of a timestamp: the `event_date` partition. */
export function utcDate(micros: number): string {
  return new Date(Math.floor(micros / 1000)).toISOString().slice(0, 10);
}
