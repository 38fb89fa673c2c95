import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createRulesStage, type RulesReport, type RulesStage } from '../pipeline/rules-stage.js';
import {
  type AlertSink,
  createJsonlSink,
  createSnsSink,
  createWebhookSink,
  loadParamsFile,
  loadRules,
  RuleLoadError,
} from '../rules/index.js';
import { UsageError } from './command.js';

/** The built-in rule pack shipped with auditlake (`rules/` of the package or checkout). */
export const BUILTIN_RULES = fileURLToPath(new URL('../../rules', import.meta.url));

/**
 * A `--rules` or rules path as given, checked: `builtin` names the built-in pack wherever auditlake is
 * installed; a path that does not exist is a usage error naming it (not a bare ENOENT).
 */
export async function rulesPath(path: string, option = 'rules path'): Promise<string> {
  if (path === 'builtin') return BUILTIN_RULES;
  try {
    await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${option} ${path}: ${code === 'ENOENT' ? 'no such file or folder' : (e as Error).message}`, { cause: e });
  }
  return path;
}

/** The `--rules` family of options, shared by `ingest` (files and streams) and `proxy`. */
export const RULES_OPTIONS = {
  rules: { type: 'string' },
  'rules-params': { type: 'string' },
  lateness: { type: 'string' },
  'alerts-jsonl': { type: 'string' },
  'sns-topic': { type: 'string' },
  webhook: { type: 'string' },
} as const;

/** Help lines of {@link RULES_OPTIONS}. */
export const RULES_HELP = `Alert rules (evaluated on every event as it passes; alerts go to <out>/alerts/ and audit_alerts):
  --rules <dir|file>       YAML rules to run; builtin names the built-in pack
  --rules-params <file>    parameter overrides: params: {<rule id>: {<param>: value}}
  --lateness <duration>    out-of-order event time tolerated within one input or stream (a file, a
                           Kinesis shard, a proxy instance) by windowed rules (default 1m); events
                           later than that, or older than an input read before them, are
                           re-evaluated over the lake after the run (catch-up)
  --alerts-jsonl <file|->  also write alerts as JSON lines to a file or stdout (-)
  --sns-topic <arn>        also publish alerts to an SNS topic (AWS_REGION, AWS_ENDPOINT_URL_SNS honoured)
  --webhook <url>          also post alerts to a Slack-compatible webhook (retried with backoff)`;

type RulesValues = { [K in keyof typeof RULES_OPTIONS]?: string };

/** Builds the rules stage the options ask for, or null without `--rules`. Bad rules are a usage error. */
export async function rulesStageFrom(values: RulesValues): Promise<RulesStage | null> {
  const sinkOptions = values['alerts-jsonl'] ?? values['sns-topic'] ?? values.webhook;
  if (!values.rules) {
    if (sinkOptions || values['rules-params'] || values.lateness) throw new UsageError('alert options need --rules <dir>');
    return null;
  }
  let rules: Awaited<ReturnType<typeof loadRules>>;
  try {
    if (values['rules-params']) await rulesPath(values['rules-params'], '--rules-params');
    const params = values['rules-params'] ? await loadParamsFile(values['rules-params']) : undefined;
    rules = await loadRules(await rulesPath(values.rules, '--rules'), { params });
  } catch (e) {
    if (e instanceof RuleLoadError || e instanceof UsageError) throw new UsageError(e.message, { cause: e });
    throw new UsageError(`--rules ${values.rules}: ${(e as Error).message}`, { cause: e });
  }
  const sinks: AlertSink[] = [];
  if (values['alerts-jsonl']) sinks.push(createJsonlSink({ path: values['alerts-jsonl'] }));
  if (values['sns-topic']) sinks.push(createSnsSink({ topicArn: values['sns-topic'] }));
  if (values.webhook) sinks.push(createWebhookSink({ url: values.webhook }));
  try {
    return createRulesStage(rules, { lateness: values.lateness, sinks });
  } catch (e) {
    throw new UsageError((e as Error).message, { cause: e });
  }
}

/** The human lines of a run's {@link RulesReport} (empty when nothing arrived late). */
export function formatRulesReport(r: RulesReport): string[] {
  const lines: string[] = [];
  if (r.late_events || r.forced_releases || r.evicted_groups)
    lines.push(
      `  late events: ${r.late_events.toLocaleString('en-US')} (released early: ${r.forced_releases.toLocaleString('en-US')}, groups evicted: ${r.evicted_groups.toLocaleString('en-US')})`,
    );
  if (r.caught_up_rules)
    lines.push(
      `  catch-up over the lake: ${r.caught_up_rules} rule(s), ${r.caught_up_alerts.toLocaleString('en-US')} alert(s) found, ${r.superseded_alerts.toLocaleString('en-US')} streamed alert(s) superseded`,
    );
  if (r.catch_up_error) lines.push(`  catch-up over the lake not run: ${r.catch_up_error} (run auditlake hunt over the lake instead)`);
  return lines;
}
