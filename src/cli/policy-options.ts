import { type BatchTransform, POLICY_MODES, type PolicyMode, policiesStage } from '../pipeline/policies-stage.js';
import { loadMembersSnapshot, loadPolicies, type MembersSnapshot, PolicyConfigError, PolicyLoadError } from '../policies/index.js';
import { UsageError } from './command.js';

/** The `--policies` family of options, shared by `ingest` (files and streams). */
export const POLICY_OPTIONS = {
  policies: { type: 'string' },
  'policy-mode': { type: 'string' },
  'policy-members': { type: 'string' },
} as const;

/** Help lines of {@link POLICY_OPTIONS}. */
export const POLICY_HELP = `Audit policies (see auditlake policy --help):
  --policies <dir|file>      YAML audit policies: each event gets the ids of those it satisfies in policy_ids
  --policy-mode tag|only     tag (default) keeps every event; only keeps the events a policy selects, plus
                             connections, disconnections and failed logins, and counts the rest as skipped
  --policy-members <file>    role membership snapshot (auditlake policy members), for policies with roles:`;

type PolicyValues = { [K in keyof typeof POLICY_OPTIONS]?: string };

/** Builds the policies stage the options ask for, or null without `--policies`. Bad policies are a usage error. */
export async function policiesStageFrom(values: PolicyValues): Promise<BatchTransform | null> {
  if (!values.policies) {
    if (values['policy-mode'] || values['policy-members'])
      throw new UsageError('--policy-mode and --policy-members go with --policies <dir>');
    return null;
  }
  const mode = (values['policy-mode'] ?? 'tag') as PolicyMode;
  if (!POLICY_MODES.includes(mode)) throw new UsageError(`--policy-mode ${mode}: expected tag or only`);
  try {
    const policies = await loadPolicies(values.policies);
    let members: MembersSnapshot | undefined;
    if (values['policy-members']) members = await loadMembersSnapshot(values['policy-members']);
    return policiesStage(policies, members, mode);
  } catch (e) {
    if (e instanceof PolicyConfigError)
      throw new UsageError(`${e.message} (--policy-members <file>, from auditlake policy members)`, { cause: e });
    if (e instanceof PolicyLoadError) throw new UsageError(e.message, { cause: e });
    throw new UsageError(`--policy-members ${values['policy-members']}: ${(e as Error).message}`, { cause: e });
  }
}
