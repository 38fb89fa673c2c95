/** Where a command writes; tests pass their own. */
export interface Io {
  /** Writes to the data channel (stdout); false when the reader is behind (then await {@link Io.drain}). */
  out: (text: string) => unknown;
  err: (text: string) => void;
  /** True when stderr is a terminal (progress display). */
  tty: boolean;
  /** Resolves when the data channel can take more after `out` returned false; see `writeOut` in output.ts. */
  drain?: () => Promise<void>;
}

/** One `auditlake <name>` command. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  /** Runs with the arguments after the command name; returns the exit code. */
  run(args: string[], io: Io): Promise<number>;
}

/** A mistake in how the command was called: printed with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {}

/** Exit codes shared by every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A file mode option in octal (`0640`, `600`); default 0600. */
export function fileModeOption(value: string | undefined): number {
  if (value === undefined) return 0o600;
  if (!/^0?[0-7]{3}$/.test(value)) throw new UsageError(`--file-mode ${value}: expected an octal mode such as 0600 or 0640`);
  return Number.parseInt(value, 8);
}

/** A positive number option (`fallback` when absent); anything else is a usage error naming the option. */
export function positiveOption(value: string | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${option} ${value}: expected a positive number`);
  return n;
}
