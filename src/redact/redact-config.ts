import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { RedactPatterns } from './redact-sql.js';

/**
 * The redaction config file (YAML), validated strictly: extra patterns on top of the built-in PASSWORD
 * rule, which cannot be turned off.
 *
 * ```yaml
 * functions:
 *   - name: pgp_sym_encrypt
 *     arguments: [2]
 * settings: [my.secret]
 * ```
 */
export const redactConfigSchema = z.strictObject({
  functions: z
    .array(
      z.strictObject({
        name: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_$]*$/)
          .describe('Function name, unqualified; matched in any case and under any schema.'),
        arguments: z.array(z.number().int().min(1).max(100)).min(1).describe('1-based positions of the arguments to redact.'),
      }),
    )
    .default([])
    .describe('Function arguments that hold secrets, e.g. the key of pgp_sym_encrypt.'),
  settings: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)*$/))
    .default([])
    .describe('Run-time settings whose values are secrets: SET <name> = ..., set_config(<name>, ...).'),
});

/**
 * Parses a redaction config text; throws one readable message naming the file and every problem. The YAML
 * parser is loaded here, by the runs that have a config, like the rules' and policies' loaders.
 */
export async function parseRedactConfig(text: string, file: string): Promise<RedactPatterns> {
  const { parse } = await import('yaml');
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (e) {
    throw new Error(`${file}: not valid YAML: ${(e as Error).message}`, { cause: e });
  }
  const result = redactConfigSchema.safeParse(raw);
  if (!result.success) throw new Error(`${file}: invalid redaction config:\n${z.prettifyError(result.error)}`);
  return result.data;
}

/** Reads and parses a redaction config file. */
export async function loadRedactConfig(file: string): Promise<RedactPatterns> {
  return await parseRedactConfig(await readFile(file, 'utf8'), file);
}
