import { describe, expect, it } from 'vitest';
import { checkAlert } from '../../src/rules/alert-schema.js';
import { createRuleEngine } from '../../src/rules/engine.js';
import { parseRule } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/rule-schema.js';
import { defaultEvent } from '../../src/rules/rule-tests.js';
import type { AuditEvent } from '../../src/schema/index.js';

const MIN = 60_000_000;
const T0 = Date.UTC(2024, 4, 6, 10, 0) * 1000;

function rule(raw: Record<string, unknown>): Rule {
  const parsed = parseRule({ title: 't', severity: 'high', ...raw }, 'inline.yaml');
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

const bruteForce = rule({
  id: 'bf',
  match: { event_class: 'AUTH_FAILURE' },
  group_by: ['db_user'],
  threshold: { count: 3, window: '10m' },
});

let n = 0;
function failure(user: string, minutes: number): AuditEvent {
  const e = defaultEvent(`e${String(n++).padStart(8, '0')}`, T0 + Math.round(minutes * MIN));
  return { ...e, event_class: 'AUTH_FAILURE', success: false, db_user: user };
}

describe('rule engine', () => {
  it('counts events that arrive out of order within the lateness', () => {
    const engine = createRuleEngine([bruteForce], { lateness: '5m' });
    const a = failure('alice', 1);
    const b = failure('alice', 2);
    const c = failure('alice', 3);
    const out = [...engine.process([c, failure('bob', 6)]), ...engine.process([a]), ...engine.process([b])];
    expect(out).toEqual([]); // held until the watermark passes the third failure
    expect(engine.stats().buffered).toBe(4);
    const alerts = [...out, ...engine.process([failure('bob', 9)])];
    expect(alerts.map((x) => x.event_ids)).toEqual([[a.event_id, b.event_id, c.event_id]]);
    expect(alerts[0].alert_time).toBe(c.event_time);
    expect(alerts[0].window_start).toBe(T0);
    expect(alerts[0].window_end).toBe(T0 + 10 * MIN);
    expect(checkAlert(alerts[0])).toBeNull();
    expect(engine.stats().late).toBe(0);
  });

  it('counts events later than the lateness and leaves their groups and times to the catch-up pass', () => {
    const engine = createRuleEngine([bruteForce], { lateness: '5m' });
    engine.process([failure('alice', 1), failure('alice', 2), failure('bob', 20)]);
    const late = engine.process([failure('alice', 3), failure('alice', 16)]); // watermark 10:15
    expect(late).toEqual([]);
    expect(engine.flush()).toEqual([]);
    const stats = engine.stats();
    expect(stats.late).toBe(1);
    expect(stats.rules.bf.late).toBe(1);
    expect(stats.events).toBe(5);
    const scope = engine.lateScopes().get('bf');
    expect(scope && [...(scope.groups ?? [])]).toEqual(['db_user=alice']);
    expect(scope?.from).toBe(T0 + 3 * MIN);
    expect(scope?.late).toBe(1);
  });

  it('keeps a watermark per stream: a stream behind another is not late', () => {
    const engine = createRuleEngine([bruteForce], { lateness: '1m' });
    engine.process([failure('alice', 1)], 'shard-a');
    engine.process([failure('bob', 30), failure('bob', 31)], 'shard-b');
    // Shard a is 28 minutes behind shard b, but within the lateness of its own stream.
    const alerts = engine.process([failure('alice', 2), failure('alice', 3)], 'shard-a');
    alerts.push(...engine.process([failure('alice', 9)], 'shard-a'));
    expect(alerts.map((a) => a.group_key)).toEqual(['db_user=alice']);
    expect(engine.stats().late).toBe(0);
  });

  it('merges watermarks conservatively: nothing is released past the slowest open stream', () => {
    const engine = createRuleEngine([bruteForce], { lateness: '1m' });
    engine.process([failure('x', 1)], 'a');
    engine.process([failure('y', 50)], 'b');
    expect(engine.stats().watermark).toBe(T0); // 10:01 - 1m
    expect(engine.stats().buffered).toBe(2);
    engine.endStream('a');
    engine.process([failure('y', 51)], 'b');
    expect(engine.stats().watermark).toBe(T0 + 50 * MIN);
    expect(engine.stats().buffered).toBe(2); // x released; y at 10:50 and 10:51 held
  });

  it('a stream opened before its first event holds the others back; ending the last one releases what it alone would', () => {
    const engine = createRuleEngine([bruteForce], { lateness: '1m' });
    engine.process([], 'b'); // started, nothing read yet
    engine.process([failure('x', 50)], 'a');
    expect(engine.stats().buffered).toBe(1); // b has shown nothing: a's event waits
    const alerts = engine.process(
      Array.from({ length: 5 }, (_, i) => failure('alice', 1 + i * 0.1)),
      'b',
    );
    expect(alerts).toEqual([]); // b's failures are at 10:01, within its own lateness
    expect(engine.stats().late).toBe(0);
    // b goes idle: a alone sets the watermark (10:49), so b's failures are released and alert.
    expect(engine.endStream('b').map((a) => a.group_key)).toEqual(['db_user=alice']);
    expect(engine.stats().buffered).toBe(1);
    // a ends too: what a alone would release (before 10:49) is out; x at 10:50 stays until flush.
    expect(engine.endStream('a')).toEqual([]);
    expect(engine.stats().buffered).toBe(1);
    expect(engine.stats().streams).toBe(0);
  });

  it('keeps bounded state: expired windows are evicted, and a full table evicts the oldest group', () => {
    const engine = createRuleEngine([bruteForce], { lateness: '1m', maxGroups: 100 });
    const events: AuditEvent[] = [];
    for (let i = 0; i < 1000; i++) events.push(failure(`user${i}`, i * 0.001));
    engine.process(events);
    expect(engine.stats().buffered).toBe(1000); // within the lateness: held for reordering
    engine.process([failure('late-comer', 60)]);
    const stats = engine.stats().rules.bf;
    expect(stats.evicted_cap).toBe(900); // released in order into a table of 100 groups
    expect(stats.groups).toBe(0); // the 10:00-10:10 windows are behind the watermark (10:59)
    expect(stats.evicted_expired).toBe(100);
    expect(engine.stats().buffered).toBe(1);
    engine.flush();
    expect(engine.stats().buffered).toBe(0);
  });

  it('bounds the reorder buffer and counts events released early', () => {
    const engine = createRuleEngine([bruteForce], { lateness: '1h', maxBuffered: 10 });
    engine.process(Array.from({ length: 25 }, (_, i) => failure('carol', i * 0.01)));
    const stats = engine.stats();
    expect(stats.buffered).toBe(10);
    expect(stats.forced).toBe(15);
    expect(stats.rules.bf.alerts).toBe(1);
    // What arrives behind an early release is late, and left to the catch-up pass.
    engine.process([failure('carol', 0)]);
    expect(engine.stats().late).toBe(1);
  });

  it('suppresses per group within an epoch-aligned bucket and counts it', () => {
    const single = rule({ id: 'any-fail', match: { event_class: 'AUTH_FAILURE' }, group_by: ['db_user'], suppress: '30m' });
    const engine = createRuleEngine([single], { lateness: '0s' });
    const alerts = [
      ...engine.process([failure('dave', 1), failure('dave', 29), failure('erin', 29), failure('dave', 31)]),
      ...engine.flush(),
    ];
    expect(alerts.map((a) => [a.group_key, a.window_start])).toEqual([
      ['db_user=dave', T0],
      ['db_user=erin', T0],
      ['db_user=dave', T0 + 30 * MIN],
    ]);
    expect(engine.stats().rules['any-fail'].suppressed).toBe(1);
  });

  it('evaluates order-independent rules at once, late or not', () => {
    const single = rule({ id: 'each', match: { event_class: 'AUTH_FAILURE' } });
    const engine = createRuleEngine([single], { lateness: '0s' });
    expect(engine.process([failure('x', 10)])).toHaveLength(1);
    expect(engine.process([failure('x', 1)])).toHaveLength(1);
    expect(engine.stats().late).toBe(0);
  });

  it('derives the same alert id for the same alert', () => {
    const events = [failure('f', 1), failure('f', 2), failure('f', 3)];
    const once = createRuleEngine([bruteForce], { lateness: '0s' });
    const twice = createRuleEngine([bruteForce], { lateness: '0s' });
    const a = [...once.process(events), ...once.flush()];
    const b = [...twice.process(events), ...twice.flush()];
    expect(a[0].alert_id).toMatch(/^[0-9a-f]{32}$/);
    expect(a[0].alert_id).toBe(b[0].alert_id);
  });
});
