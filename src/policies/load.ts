import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { OPERATIONS, type Operation, type Policy, policySchema } from './policy-schema.js';

/** Raised when policies cannot be loaded; the message names every file, policy and field at fault. */
export class PolicyLoadError extends Error {
  override name = 'PolicyLoadError';
}

async function policyFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml')).sort();
  return names.map((n) => join(path, n));
}

/** Validates one policy document; returns the policy or a readable error naming file and field. */
export function parsePolicy(raw: unknown, file: string, where = ''): Policy | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return `${file}${where}: a policy must be a YAML mapping`;
  const id = (raw as Record<string, unknown>).id;
  const label = `${file}${where}: ${typeof id === 'string' ? `policy "${id}"` : 'policy without an id'}`;
  const result = policySchema.safeParse(raw);
  if (!result.success) return `${label}:\n${z.prettifyError(result.error)}`;
  const p = result.data;
  const operations: Operation[] = p.operations.includes('ALL') ? [...OPERATIONS] : [...new Set(p.operations as Operation[])];
  return { ...p, operations, file };
}

/**
 * Loads the policies of a YAML file or of a directory's `*.yaml`/`*.yml` files (not recursive). A
 * document is one policy (a mapping) or a list of them; `---` separates documents. Throws a
 * {@link PolicyLoadError} listing every problem; ids must be unique across files.
 */
export async function loadPolicies(path: string): Promise<Policy[]> {
  const policies: Policy[] = [];
  const errors: string[] = [];
  let files: string[];
  try {
    files = await policyFiles(path);
  } catch (e) {
    throw new PolicyLoadError(`${path}: ${(e as Error).message}`, { cause: e });
  }
  for (const file of files) {
    const { parseAllDocuments } = await import('yaml');
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      if (doc.errors.length > 0) {
        errors.push(`${file}: not valid YAML: ${doc.errors[0].message}`);
        continue;
      }
      const raw = doc.toJS();
      if (raw === null || raw === undefined) continue;
      const items = Array.isArray(raw) ? raw.map((item, i) => [item, `[${i}]`] as const) : [[raw, ''] as const];
      for (const [item, where] of items) {
        const parsed = parsePolicy(item, file, where);
        if (typeof parsed === 'string') errors.push(parsed);
        else policies.push(parsed);
      }
    }
  }
  const seen = new Map<string, string>();
  for (const p of policies) {
    const other = seen.get(p.id);
    if (other) errors.push(`${p.file}: policy "${p.id}": id already used in ${other}`);
    seen.set(p.id, p.file);
  }
  if (errors.length > 0) throw new PolicyLoadError(errors.join('\n\n'));
  if (policies.length === 0) throw new PolicyLoadError(`${path}: no policies (YAML files with one policy or a list of them)`);
  return policies;
}
