/**
 * The whole story of an error for debugging: its message and stack, then each `cause` in turn. Errors
 * rewrapped to add context (`new Error(msg, { cause })`) keep the original, so the first line says what
 * failed in the user's terms and the rest says where and why.
 */

/** Causes followed at most; a cycle or a runaway chain stops here. */
const MAX_CAUSES = 8;

/** The error's stack (or message) followed by its causes, each headed `caused by:`. */
export function errorDetail(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth <= MAX_CAUSES; depth++) {
    const text = current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : String(current);
    parts.push(depth === 0 ? text : `caused by: ${text}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join('\n');
}

/** True when the environment asks for debug detail (`AUDITLAKE_DEBUG=1`). */
export function debugWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.AUDITLAKE_DEBUG;
  return value !== undefined && value !== '' && value !== '0';
}
