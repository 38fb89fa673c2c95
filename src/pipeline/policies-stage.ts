import type { Policy, PolicyMatcher } from '../policies/index.js';
import { createPolicyMatcher } from '../policies/match.js';
import type { MembersSnapshot } from '../policies/members.js';
import { type Batch, type EventClass, eventsPerRecordOf, skip } from '../schema/index.js';

/** `tag` keeps every event; `only` keeps the events some policy selects, plus sessions and logins. */
export const POLICY_MODES = ['tag', 'only'] as const;
export type PolicyMode = (typeof POLICY_MODES)[number];

/** Reason under which `--policy-mode only` counts the events it leaves out (they are skipped on purpose). */
export const SKIP_NOT_SELECTED = 'not selected by any policy (--policy-mode only)';

/** Who connected, and who failed to, stays in the lake whatever the policies select. */
const ALWAYS_KEPT: ReadonlySet<string> = new Set<EventClass>(['CONNECT', 'DISCONNECT', 'AUTH_FAILURE']);

/**
 * A stage that may change a batch before it is counted, observed and written. `spec`, when present, is
 * the stage as plain data (structured-cloneable), from which {@link transformFromSpec} builds the same
 * stage on another thread: parse workers run such stages before they encode a batch. A stage without it
 * (a closure over state) makes inputs parse on the writing thread.
 */
export type BatchTransform = ((batch: Batch) => void) & { spec?: TransformSpec };

/** A transform as plain data, for a parse worker to rebuild. */
export interface TransformSpec {
  kind: 'policies';
  policies: Policy[];
  members?: MembersSnapshot;
  mode: PolicyMode;
}

/** The policies stage of `policies` (and `members`, for policies with roles), with its spec for parse workers. */
export function policiesStage(policies: Policy[], members: MembersSnapshot | undefined, mode: PolicyMode): BatchTransform {
  const stage: BatchTransform = createPoliciesStage(createPolicyMatcher(policies, members), mode);
  stage.spec = { kind: 'policies', policies, ...(members ? { members } : {}), mode };
  return stage;
}

/** Builds the stage a {@link TransformSpec} describes. */
export function transformFromSpec(spec: TransformSpec): BatchTransform {
  return policiesStage(spec.policies, spec.members, spec.mode);
}

/**
 * The policies between the collectors and the rules: every event gets the ids of the policies it
 * satisfies in `policy_ids`. In `only` mode the events no policy selects (other than connections,
 * disconnections and failed logins) leave the batch and are counted in `skipped`, so the run's summary
 * still accounts for every record. For sources that log everything (Aurora DAS, `pgaudit.log = all`)
 * this is how the policies select what is kept.
 */
export function createPoliciesStage(matcher: PolicyMatcher, mode: PolicyMode): BatchTransform {
  return (batch) => {
    const events = batch.events;
    const keep = new Uint8Array(events.length);
    let kept = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const ids = matcher.match(e);
      e.policy_ids = ids;
      if (mode === 'tag' || ids.length > 0 || ALWAYS_KEPT.has(e.event_class)) {
        keep[i] = 1;
        kept++;
      }
    }
    if (kept === events.length) return;
    if (batch.recordOutcomes) recountRecords(batch, keep);
    let at = 0;
    for (let i = 0; i < events.length; i++) if (keep[i]) events[at++] = events[i];
    skip(batch, SKIP_NOT_SELECTED, events.length - kept);
    events.length = kept;
  };
}

/**
 * For records of several events (a DAS record): a record whose every event the policies left out was
 * not written but skipped on purpose. `keep[i]` says whether `batch.events[i]` stays.
 */
function recountRecords(batch: Batch, keep: Uint8Array): void {
  const outcomes = batch.recordOutcomes;
  if (!outcomes) return;
  const remaining: number[] = [];
  let at = 0;
  for (const n of eventsPerRecordOf(batch)) {
    let left = 0;
    for (let i = at; i < at + n; i++) left += keep[i];
    at += n;
    if (left > 0) remaining.push(left);
    else {
      outcomes.written--;
      outcomes.skipped++;
    }
  }
  batch.eventsPerRecord = remaining;
}
