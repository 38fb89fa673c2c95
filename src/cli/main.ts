import type { Command, Io } from './command.js';
import { EXIT, UsageError } from './command.js';
import { compactCommand } from './commands/compact.js';
import { huntCommand } from './commands/hunt.js';
import { ingestCommand } from './commands/ingest.js';
import { policyCommand } from './commands/policy.js';
import { proxyCommand } from './commands/proxy.js';
import { queryCommand } from './commands/query.js';
import { rulesCommand } from './commands/rules.js';
import { schemaCommand } from './commands/schema.js';
import { sessionsCommand } from './commands/sessions.js';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  ingestCommand,
  queryCommand,
  sessionsCommand,
  proxyCommand,
  compactCommand,
  schemaCommand,
  rulesCommand,
  huntCommand,
  policyCommand,
];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: auditlake <command> [options]

One audit trail for PostgreSQL: pgAudit logs, Aurora Database Activity Streams and a recording
proxy, as one event schema in partitioned Parquet for DuckDB and Athena.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run auditlake <command> --help for a command's options.
`;
}

/** Runs the CLI with `argv` (without node and the script); returns the exit code. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    io.out(mainHelp());
    return name ? EXIT.ok : EXIT.usage;
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
    return EXIT.failed;
  }
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/src\//, '/src/'));
if (isMain || process.env.AUDITLAKE_CLI === '1') {
  const io: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), tty: Boolean(process.stderr.isTTY) };
  runCli(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
  });
}
