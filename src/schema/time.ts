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

/** Wall-clock parts of an instant in a zone, cached per zone (Intl formatters are costly to build). */
const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * `2024-05-01T04:15:02.123456-04:00`: ISO-8601 in the IANA zone `timeZone` with its offset at that instant
 * (daylight saving included); {@link formatMicros} for `UTC`. The zone must be valid (see `Intl`).
 */
export function formatMicrosInZone(micros: number, timeZone: string): string {
  if (timeZone === 'UTC') return formatMicros(micros);
  let format = zoneFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    zoneFormats.set(timeZone, format);
  }
  const seconds = Math.floor(micros / 1_000_000);
  const parts: Record<string, string> = {};
  for (const p of format.formatToParts(new Date(seconds * 1000))) parts[p.type] = p.value;
  const wall = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  const offset = Math.round((wall - seconds * 1000) / 60_000);
  const sign = offset < 0 ? '-' : '+';
  const hhmm = `${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
  const fraction = String(micros - seconds * 1_000_000).padStart(6, '0');
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}.${fraction}${sign}${hhmm}`;
}

/** UTC calendar date (YYYY-MM-DD) of a timestamp: the `event_date` partition. */
export function utcDate(micros: number): string {
  return new Date(Math.floor(micros / 1000)).toISOString().slice(0, 10);
}
