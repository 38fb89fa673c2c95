/** Alert rules: the rule format, streaming evaluation, SQL compilation and alert outputs. */

export { alertId } from './alert.js';
export {
  ALERT_FIELDS,
  ALERT_PARTITION_KEYS,
  type Alert,
  alertSchema,
  athenaAlertsDdl,
  checkAlert,
  duckdbAlertColumns,
} from './alert-schema.js';
export { createRuleEngine, type RuleEngine, type RuleEngineOptions, type RuleEngineStats, type RuleStats } from './engine.js';
export { type LoadRulesOptions, loadParamsFile, loadRules, parseRule, RuleLoadError } from './load.js';
export { createJsonlSink, type JsonlSinkOptions } from './outputs/jsonl.js';
export { type AlertSink, alertToJson } from './outputs/sink.js';
export { createSnsSink, type SnsSinkOptions } from './outputs/sns.js';
export { createWebhookSink, slackMessage, type WebhookSinkOptions } from './outputs/webhook.js';
export type { ParamOverrides, ParamValue } from './params.js';
export { type Rule, type RuleKind, ruleKind, ruleSchema, SEVERITIES, type Severity } from './rule-schema.js';
export { defaultEvent, expandTestEvents, type RuleTestResult, runRuleTests } from './rule-tests.js';
export { type CompileSqlOptions, compileRuleSql } from './sql.js';
export type { Dialect } from './sql-dialect.js';
