import { readFileSync } from 'node:fs';
import { debugWanted, errorDetail } from '../pipeline/error-detail.js';
import type { Command, Io } from './command.js';
import { EXIT, UsageError } from './command.js';
import { compactCommand } from './commands/compact.js';
import { exportCommand } from './commands/export.js';
import { huntCommand } from './commands/hunt.js';
import { ingestCommand } from './commands/ingest.js';
import { policyCommand } from './commands/policy.js';
import { proxyCommand } from './commands/proxy.js';
import { queryCommand } from './commands/query.js';
import { reportCommand } from './commands/report.js';
import { rulesCommand } from './commands/rules.js';
import { schemaCommand } from './commands/schema.js';
import { sessionsCommand } from './commands/sessions.js';
import { verifyCommand } from './commands/verify.js';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  ingestCommand,
  queryCommand,
  sessionsCommand,
  proxyCommand,
  compactCommand,
  verifyCommand,
  schemaCommand,
  rulesCommand,
  huntCommand,
  reportCommand,
  exportCommand,
  policyCommand,
];

/** The package's version (`package.json`, two folders up from both `src/cli/` and `dist/cli/`). */
export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: auditlake <command> [options]

One audit trail for PostgreSQL: pgAudit logs, Aurora Database Activity Streams and a recording
proxy, as one event schema in partitioned Parquet for DuckDB and Athena.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  -V, --version  print the version (auditlake x.y.z, Node and DuckDB versions)
  -h, --help     show this help

Run auditlake <command> --help for a command's options.
`;
}

/** DuckDB's library version, as `SELECT version()` reports it. */
async function duckDbVersion(): Promise<string> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const connection = await (await DuckDBInstance.create(':memory:')).connect();
  try {
    return String((await connection.runAndReadAll('SELECT version() AS v')).getRowObjects()[0].v);
  } finally {
    connection.closeSync();
  }
}

/** Runs the CLI with `argv` (without node and the script); returns the exit code. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    io.out(mainHelp());
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '-V' || name === '--version' || name === 'version') {
    io.out(`auditlake ${VERSION} (node ${process.versions.node}, duckdb ${await duckDbVersion()})\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`auditlake: unknown command ${name}\n\n${mainHelp()}`);
    return EXIT.usage;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    io.out(command.help);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`auditlake ${name}: ${err.message}\nRun auditlake ${name} --help for usage.\n`);
      return EXIT.usage;
    }
    io.err(`auditlake ${name}: ${err.message}\n`);
    // The one line above is for the user; the stack and every cause are for whoever debugs it.
    if (debugWanted()) io.err(`${errorDetail(e)}\n`);
    return EXIT.failed;
  }
}
