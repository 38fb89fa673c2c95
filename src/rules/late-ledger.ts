/**
 * What the streaming engine could not evaluate in order, per rule: the groups and the event-time range
 * touched by events that arrived after the engine had moved past their time (late beyond the lateness,
 * or behind a forced release), and by state evicted at the cap. The catch-up pass (`catch-up.ts`)
 * re-evaluates exactly that scope with the rule's SQL over the lake.
 *
 * Bounded: at most `maxGroups` group keys per rule; past it the rule's scope widens to every group over
 * the same time range (counted as `widened`), which stays correct and costs only a wider query.
 */

/** The part of one rule's alerts the stream may have got wrong. */
export interface LateScope {
  /** Group keys touched, or null for every group. */
  groups: Set<string> | null;
  /** Earliest and latest event time touched (µs). */
  from: number;
  to: number;
  /** Late events of the rule. */
  late: number;
}

/** Per-rule {@link LateScope}s, keyed by rule id. */
export class LateLedger {
  private readonly scopes = new Map<string, LateScope>();
  /** Rules whose group set overflowed `maxGroups`. */
  widened = 0;

  constructor(private readonly maxGroups = 10_000) {}

  /** Records that `group` of `ruleId` needs re-evaluation at event time `t`; `late` counts a late event. */
  add(ruleId: string, group: string, t: number, late: boolean): void {
    let s = this.scopes.get(ruleId);
    if (!s) {
      s = { groups: new Set(), from: t, to: t, late: 0 };
      this.scopes.set(ruleId, s);
    }
    if (t < s.from) s.from = t;
    if (t > s.to) s.to = t;
    if (late) s.late++;
    if (s.groups && !s.groups.has(group)) {
      if (s.groups.size >= this.maxGroups) {
        s.groups = null;
        this.widened++;
      } else s.groups.add(group);
    }
  }

  /** The scope of a rule, if anything of it needs catching up. */
  get(ruleId: string): LateScope | undefined {
    return this.scopes.get(ruleId);
  }

  /** Every rule with a scope. */
  entries(): [string, LateScope][] {
    return [...this.scopes];
  }

  get size(): number {
    return this.scopes.size;
  }
}
