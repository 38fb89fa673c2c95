/**
 * Runs `stop` once on the first SIGINT or SIGTERM (ECS sends SIGTERM, then SIGKILL after its stop
 * timeout); a second signal exits at once. Returns a function that removes the handlers.
 */
export function onStopSignal(stop: (signal: string) => void): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    stop(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** One structured log line (JSON) on stdout, for long-running commands under ECS or systemd. */
export function logJson(
  out: (text: string) => void,
  level: 'info' | 'warn' | 'error',
  msg: string,
  fields: Record<string, unknown> = {},
): void {
  out(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}
