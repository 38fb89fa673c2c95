import { collectorForFormat, detectFormat } from '../../src/collectors/registry.js';
import { openFile } from '../../src/pipeline/open-input.js';
import { type AuditEvent, eventToJson, type Rejected } from '../../src/schema/index.js';

/** Everything a collector made of one input, gathered in memory (fixtures are small). */
export interface Collected {
  format: string;
  records: number;
  events: AuditEvent[];
  rejected: Rejected[];
  skipped: Record<string, number>;
}

/** Reads a file through the collector that detects it (or the one for `format`). */
export async function collectFile(path: string, format?: string, options: Record<string, unknown> = {}): Promise<Collected> {
  const input = await openFile(path);
  const picked = format ? { collector: collectorForFormat(format), format } : detectFormat(input.head);
  if (!picked?.collector) throw new Error(`no collector for ${path}`);
  const out: Collected = { format: picked.format, records: 0, events: [], rejected: [], skipped: {} };
  for await (const b of picked.collector.collect(input, picked.format, { ingestTime: 0, batchSize: 1000, options })) {
    out.records += b.records;
    out.events.push(...b.events);
    out.rejected.push(...b.rejected);
    for (const [k, v] of Object.entries(b.skipped)) out.skipped[k] = (out.skipped[k] ?? 0) + v;
  }
  return out;
}

/** The normalized form golden files hold: JSON events (ingest time fixed by the collector context). */
export function normalized(c: Collected): unknown {
  return { format: c.format, records: c.records, skipped: c.skipped, rejected: c.rejected, events: c.events.map(eventToJson) };
}
