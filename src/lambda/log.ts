/** One structured log line (JSON) on stdout, which Lambda sends to CloudWatch Logs as it is. */
export function logJson(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}
