import { UsageError } from './command.js';

/** The `--tz` option of the commands that print times (query, sessions, hunt, report). */
export const TZ_OPTION = { tz: { type: 'string' } } as const;

/** Its help lines, the text starting at `column` as the command's other options do. */
export function tzHelp(column: number): string {
  const indent = ' '.repeat(column);
  return `${'  --tz <zone>'.padEnd(column)}print times in this IANA zone (e.g. Europe/Berlin), or local
${indent}(the machine's zone, from TZ); default UTC, as Athena prints them`;
}

/** The machine's zone, as Node resolves it (the TZ variable, else the system's). */
function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
}

/**
 * The zone `--tz` names, checked: an IANA name (`Europe/Berlin`), `UTC`, or `local` for the machine's
 * zone. Without `--tz`, UTC. An unknown name is a usage error naming it.
 */
export function timeZoneOption(value: string | undefined): string {
  if (value === undefined) return 'UTC';
  const zone = value === 'local' ? localZone() : value;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    throw new UsageError(`--tz ${value}: expected an IANA time zone such as Europe/Berlin, UTC or local`);
  }
}
