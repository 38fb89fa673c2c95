/**
 * Durations in rules (`window: 10m`, `suppress: 1h`) are short texts; the engine and the SQL both work
 * in integer microseconds, the unit of `event_time`.
 */

const UNIT_MICROS: Readonly<Record<string, number>> = {
  ms: 1_000,
  s: 1_000_000,
  m: 60_000_000,
  h: 3_600_000_000,
  d: 86_400_000_000,
};

/** The accepted form: a positive integer and a unit (`ms`, `s`, `m`, `h`, `d`), e.g. `90s`, `10m`, `1d`. */
export const DURATION_PATTERN = /^([1-9]\d*)(ms|s|m|h|d)$/;

/** Microseconds in a duration text, or null when it is not of the form `<n><unit>`. */
export function parseDurationMicros(text: string): number | null {
  const m = DURATION_PATTERN.exec(text.trim());
  if (!m) return null;
  const micros = Number(m[1]) * UNIT_MICROS[m[2]];
  return Number.isSafeInteger(micros) ? micros : null;
}
