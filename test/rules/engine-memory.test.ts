import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createRuleEngine } from '../../src/rules/engine.js';
import { loadRules } from '../../src/rules/load.js';
import { defaultEvent } from '../../src/rules/rule-tests.js';
import type { AuditEvent } from '../../src/schema/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MIN = 60_000_000;
const T0 = Date.UTC(2024, 4, 6, 2, 0) * 1000;
const CHUNKS = 40;
const CHUNK_CHARS = 1 << 20;

/** Heap in use after full collections. */
function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Events of one input chunk, as a collector makes them: user, address and event id are substrings of the
 * chunk's text (V8 keeps substrings of 13 characters or more as views into it). Each chunk brings a new
 * user connecting from a new address at night and failing to log in 6 times, so the built-in pack
 * raises first_seen, off-hours and brute-force alerts whose group keys and event ids come from the chunk.
 */
function chunkEvents(k: number): AuditEvent[] {
  const user = `svc_reporting_${String(k).padStart(4, '0')}`;
  const addr = `10.20.${k}.${100 + (k % 100)}`.padEnd(15, '0');
  const text = `${user},${addr},${'x'.repeat(CHUNK_CHARS)}`;
  const slice = (s: string) => text.slice(text.indexOf(s), text.indexOf(s) + s.length);
  const events: AuditEvent[] = [];
  for (let i = 0; i < 7; i++) {
    const id = text.slice(0, 24) + String(i).padStart(8, '0');
    const e = defaultEvent(id, T0 + k * 30 * MIN + i * 10_000_000);
    const failed = i < 6;
    events.push({
      ...e,
      event_class: failed ? 'AUTH_FAILURE' : 'CONNECT',
      success: !failed,
      db_user: slice(user),
      client_addr: slice(addr),
    });
  }
  return events;
}

describe('rule engine memory', () => {
  it('keeps no input text alive through its state and alerts', async () => {
    const rules = await loadRules('rules');
    const engine = createRuleEngine(rules);
    const before = heapUsed();
    const alerts = [];
    for (let k = 0; k < CHUNKS; k++) alerts.push(...engine.process(chunkEvents(k)));
    alerts.push(...engine.flush());
    const held = heapUsed() - before;
    const ids = new Set(alerts.map((a) => a.rule_id));
    expect(ids).toEqual(new Set(['auth-brute-force', 'auth-success-after-failures', 'new-client-address', 'off-hours-activity']));
    expect(alerts.length).toBeGreaterThanOrEqual(CHUNKS * 3);
    // 40 chunks of 1 MiB went through; what stays is the alerts and state.
    expect(held).toBeLessThan(8 * 1024 * 1024);
    expect(engine.stats().events).toBe(CHUNKS * 7);
  });
});
