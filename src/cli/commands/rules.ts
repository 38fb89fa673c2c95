import { parseArgs } from 'node:util';
import { loadParamsFile, loadRules } from '../../rules/load.js';
import type { ParamOverrides } from '../../rules/params.js';
import type { Rule } from '../../rules/rule-schema.js';
import { runRuleTests } from '../../rules/rule-tests.js';
import { compileRuleSql } from '../../rules/sql.js';
import type { Dialect } from '../../rules/sql-dialect.js';
import { type Command, EXIT, UsageError } from '../command.js';
import { BUILTIN_RULES, rulesPath } from '../rules-options.js';

export { BUILTIN_RULES };

const HELP = `Usage: auditlake rules <test|sql> [<dir or file>] [options]

  test   run the tests embedded in each rule (sample events and the alerts they must raise)
  sql    print each rule as SQL over audit_events, returning the same alerts the streaming
         engine raises (columns of the audit_alerts table)

Rules are YAML files; without a path, or with the path builtin, the built-in pack (${BUILTIN_RULES}) is used.

Options:
  --params <file>             param overrides: params: {<rule id>: {<param>: value}}
  --rule <id>                 only this rule (repeatable)
  --dialect duckdb|athena     SQL dialect (sql; default: duckdb)
  --since <time>              sql: only events at or after this ISO-8601 time
  --until <time>              sql: only events before this ISO-8601 time
  -h, --help                  show this help

Exit status: 0 when every rule loads (and every test passes), 1 otherwise, 2 for a usage error.
`;

/** Loads rules for a command from a path (default the built-in pack), a params file and `--rule` filters. */
export async function loadRulesForCli(
  path: string | undefined,
  paramsFile: string | undefined,
  only: string[] | undefined,
): Promise<Rule[]> {
  const params: ParamOverrides | undefined = paramsFile ? await loadParamsFile(await rulesPath(paramsFile, '--params')) : undefined;
  const rules = await loadRules(await rulesPath(path ?? 'builtin'), { params });
  if (!only || only.length === 0) return rules;
  const unknown = only.filter((id) => !rules.some((r) => r.id === id));
  if (unknown.length > 0) throw new UsageError(`unknown rule ${unknown.join(', ')}; loaded: ${rules.map((r) => r.id).join(', ')}`);
  return rules.filter((r) => only.includes(r.id));
}

/** `auditlake rules test|sql`. */
export const rulesCommand: Command = {
  name: 'rules',
  summary: 'test alert rules, or print them as DuckDB/Athena SQL',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        params: { type: 'string' },
        rule: { type: 'string', multiple: true },
        dialect: { type: 'string', default: 'duckdb' },
        since: { type: 'string' },
        until: { type: 'string' },
      },
    });
    const [action, path, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError(`unexpected ${extra.join(' ')}`);
    if (action !== 'test' && action !== 'sql')
      throw new UsageError(action ? `unknown action ${action}: expected test or sql` : 'test or sql?');
    for (const option of ['since', 'until'] as const) {
      const v = values[option];
      if (v !== undefined && Number.isNaN(Date.parse(v))) throw new UsageError(`--${option} ${v}: expected an ISO-8601 time`);
    }
    if (values.dialect !== 'duckdb' && values.dialect !== 'athena')
      throw new UsageError(`--dialect ${values.dialect}: expected duckdb or athena`);
    let rules: Rule[];
    try {
      rules = await loadRulesForCli(path, values.params, values.rule);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      io.err(`${(e as Error).message}\n`);
      return EXIT.failed;
    }
    if (action === 'sql') {
      for (const rule of rules)
        io.out(`${compileRuleSql(rule, { dialect: values.dialect as Dialect, since: values.since, until: values.until }).trimEnd()};\n\n`);
      return EXIT.ok;
    }
    const results = runRuleTests(rules);
    for (const r of results)
      io.out(`${r.passed ? 'ok  ' : 'FAIL'} ${r.rule_id}: ${r.test}${r.passed ? '' : `\n     ${r.file}: ${r.message}`}\n`);
    const failed = results.filter((r) => !r.passed).length;
    io.out(`${results.length - failed} passed, ${failed} failed (${rules.length} rules)\n`);
    return failed === 0 ? EXIT.ok : EXIT.failed;
  },
};
