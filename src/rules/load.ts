import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { mergeParams, type ParamOverrides, type ParamProblem, type ParamValue, substituteParams } from './params.js';
import { type Rule, ruleSchema } from './rule-schema.js';

/** Raised when rules or a params file cannot be loaded; the message names file, rule and field. */
export class RuleLoadError extends Error {
  override name = 'RuleLoadError';
}

/** Options of {@link loadRules}. */
export interface LoadRulesOptions {
  /** Param overrides by rule id (see {@link loadParamsFile}). */
  params?: ParamOverrides;
  /** Keep rules with `enabled: false` (default false). */
  includeDisabled?: boolean;
}

const paramsFileSchema = z.strictObject({
  params: z
    .record(
      z.string(),
      z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()]))])),
    )
    .describe('Param overrides: rule id -> param name -> value.'),
});

/** Reads a params config file (`params: {<rule id>: {<param>: value}}`). */
export async function loadParamsFile(file: string): Promise<ParamOverrides> {
  const text = await readFile(file, 'utf8');
  const { parseAllDocuments } = await import('yaml');
  const docs = parseAllDocuments(text);
  const doc = Array.isArray(docs) ? docs[0] : docs;
  if (!doc || doc.errors.length > 0) throw new RuleLoadError(`${file}: not valid YAML: ${doc?.errors[0]?.message ?? 'empty file'}`);
  const result = paramsFileSchema.safeParse(doc.toJS());
  if (!result.success) throw new RuleLoadError(`${file}:\n${z.prettifyError(result.error)}`);
  return result.data.params as ParamOverrides;
}

/** YAML files of a directory (sorted, not recursive), or the file itself. */
async function ruleFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml')).sort();
  return names.map((n) => join(path, n));
}

function formatProblems(problems: ParamProblem[]): string {
  return problems.map((p) => `✖ ${p.message}\n  → at ${p.path.map((s) => (typeof s === 'number' ? `[${s}]` : s)).join('.')}`).join('\n');
}

/** Validates one rule document; returns the rule or a readable error text. */
export function parseRule(raw: unknown, file: string, overrides: ParamOverrides = {}): Rule | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return `${file}: a rule must be a YAML mapping`;
  const doc = raw as Record<string, unknown>;
  const label = typeof doc.id === 'string' ? `${file}: rule "${doc.id}"` : `${file}: rule without an id`;
  const declared = z.record(z.string(), z.unknown()).safeParse(doc.params ?? {});
  const problems: ParamProblem[] = [];
  const params = mergeParams(
    (declared.success ? declared.data : {}) as Record<string, ParamValue>,
    typeof doc.id === 'string' ? overrides[doc.id] : undefined,
    problems,
  );
  const { params: _declared, tests, ...body } = doc;
  const substituted = substituteParams(body, params, problems) as Record<string, unknown>;
  const result = ruleSchema.safeParse({
    ...substituted,
    ...(doc.params === undefined ? {} : { params: doc.params }),
    ...(tests === undefined ? {} : { tests }),
  });
  const messages: string[] = [];
  if (problems.length > 0) messages.push(formatProblems(problems));
  if (!result.success) messages.push(z.prettifyError(result.error));
  if (messages.length > 0) return `${label}:\n${messages.join('\n')}`;
  const rule = result.data as Omit<Rule, 'file'>;
  return { ...rule, params, file } as Rule;
}

/**
 * Loads every rule of a YAML file or of a directory's `*.yaml`/`*.yml` files (one rule per YAML
 * document; `---` separates several in a file). Throws a {@link RuleLoadError} listing every problem
 * of every file; rule ids must be unique; overrides must name loaded rules.
 */
export async function loadRules(path: string, options: LoadRulesOptions = {}): Promise<Rule[]> {
  const overrides = options.params ?? {};
  const rules: Rule[] = [];
  const errors: string[] = [];
  for (const file of await ruleFiles(path)) {
    const { parseAllDocuments } = await import('yaml');
    const docs = parseAllDocuments(await readFile(file, 'utf8'));
    for (const doc of Array.isArray(docs) ? docs : [docs]) {
      if (doc.errors.length > 0) {
        errors.push(`${file}: not valid YAML: ${doc.errors[0].message}`);
        continue;
      }
      const raw = doc.toJS();
      if (raw === null || raw === undefined) continue;
      const parsed = parseRule(raw, file, overrides);
      if (typeof parsed === 'string') errors.push(parsed);
      else rules.push(parsed);
    }
  }
  const seen = new Map<string, string>();
  for (const rule of rules) {
    const other = seen.get(rule.id);
    if (other) errors.push(`${rule.file}: rule "${rule.id}": id already used in ${other}`);
    seen.set(rule.id, rule.file);
  }
  for (const id of Object.keys(overrides)) {
    if (!seen.has(id)) errors.push(`params: override for unknown rule "${id}"`);
  }
  if (errors.length > 0) throw new RuleLoadError(errors.join('\n\n'));
  return options.includeDisabled ? rules : rules.filter((r) => r.enabled);
}
