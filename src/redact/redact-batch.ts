import type { AuditEvent, Batch } from '../schema/index.js';
import { REDACTED, type SqlRedactor } from './redact-sql.js';
import { scrubRaw, scrubText } from './scrub-text.js';

/**
 * The redaction stage: what every source's events and rejected records pass through before anything is
 * queued or written. Statement text goes through the SQL redactor, the bound values of secret parameters
 * are blanked, and quarantined records and their reasons through the text scrubber.
 */

/** Redacts one event in place: its statement text and the parameters the statement marks secret. */
export function redactEvent(event: AuditEvent, redactor: SqlRedactor): void {
  const text = event.statement_text;
  if (text === null) return;
  const r = redactor.statement(text);
  event.statement_text = r.text;
  if (r.parameters.length > 0 && event.parameters) event.parameters = redactParameters(event.parameters, r.parameters);
}

/** A copy of `values` with the 1-based `positions` replaced by `<REDACTED>`. */
export function redactParameters(values: string[], positions: number[]): string[] {
  const out = values.slice();
  for (const p of positions) if (p >= 1 && p <= out.length) out[p - 1] = REDACTED;
  return out;
}

/** Redacts a batch in place and returns it. */
export function redactBatch(batch: Batch, redactor: SqlRedactor): Batch {
  for (const e of batch.events) redactEvent(e, redactor);
  for (const r of batch.rejected) {
    r.raw = scrubRaw(r.raw);
    r.reason = scrubText(r.reason);
  }
  return batch;
}
