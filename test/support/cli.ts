import { runCli } from '../../src/cli/main.js';

/** What a CLI run in this process printed, and its exit status. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in this process (no terminal), capturing stdout and stderr: `cli('query', '--lake', dir, sql)`. */
export function cli(...argv: string[]): Promise<CliRun> {
  return cliArgs(argv);
}

/** The same with the arguments as one list, and optionally as a terminal would run it (`tty`). */
export async function cliArgs(argv: string[], tty = false): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => (out += t), err: (t) => (err += t), tty });
  return { code, out, err };
}
