import { tmpdir } from 'node:os';
import { SNSClient } from '@aws-sdk/client-sns';
import { createDasDecoder, type DasDecoder } from '../collectors/das/index.js';
import { kmsSigner } from '../lake/integrity/signers.js';
import { DEFAULT_LAKE_WRITER, LakeWriter } from '../lake/lake-writer.js';
import { useLeanHeap } from '../lake/lean-heap.js';
import { S3Storage } from '../lake/s3-storage.js';
import { type BatchTransform, createPoliciesStage } from '../pipeline/policies-stage.js';
import { createRulesStage, type RulesStage } from '../pipeline/rules-stage.js';
import { createPolicyMatcher, loadMembersSnapshot, loadPolicies } from '../policies/index.js';
import { type AlertSink, createSnsSink, loadRules, type Rule } from '../rules/index.js';
import { type LambdaConfig, loadLambdaConfig } from './config.js';

/**
 * What a Lambda container builds once and reuses across invocations: the S3 storage and its client,
 * the DuckDB-backed lake writer, the DAS decoder with its data-key cache (so KMS is called once per
 * data key, not per record or per invocation), the parsed rules and the SNS client. Each invocation
 * gets a fresh rules stage, so the alerts of an invocation depend only on its input and a retry
 * raises (and replaces) the same ones.
 */
export interface Runtime {
  config: LambdaConfig;
  storage: S3Storage;
  lake: LakeWriter;
  das: DasDecoder;
  rules: readonly Rule[];
  /** The policies stage (POLICIES_DIR), stateless, shared by invocations; null without policies. */
  policies: BatchTransform | null;
  /** A rules stage for one unit of work: alerts to SNS (when configured) as raised, to the lake on `finish`. */
  rulesStage(): RulesStage;
}

/** Builds the runtime for a configuration. */
export async function createRuntime(config: LambdaConfig): Promise<Runtime> {
  // DuckDB looks for a home directory; a Lambda container has none, and only /tmp is writable.
  process.env.HOME ??= tmpdir();
  useLeanHeap();
  const storage = new S3Storage(config.lakeUrl, { sseKmsKeyId: config.sseKmsKeyId });
  const rules = await loadRules(config.rulesDir);
  const signer = config.signKmsKeyId ? await kmsSigner(config.signKmsKeyId) : null;
  const p = config.policies;
  const policies = p
    ? createPoliciesStage(
        createPolicyMatcher(await loadPolicies(p.dir), p.members ? await loadMembersSnapshot(p.members) : undefined),
        p.mode,
      )
    : null;
  const lake = await LakeWriter.open(storage, { ...DEFAULT_LAKE_WRITER, signer });
  const das = createDasDecoder({ filters: { excludeUsers: new Set(config.dasExcludeUsers) } });
  const sns = config.alertsTopicArn ? new SNSClient({}) : null;
  return {
    config,
    storage,
    lake,
    das,
    rules,
    policies,
    rulesStage() {
      const sinks: AlertSink[] = [];
      // The client is passed in, so closing the sink at the end of an invocation keeps it for the next.
      if (sns && config.alertsTopicArn) sinks.push(createSnsSink({ topicArn: config.alertsTopicArn, client: sns }));
      return createRulesStage(rules, { sinks });
    },
  };
}

/** Runtimes being built or built, by configuration (JSON): one per container in Lambda, where one handler runs. */
const shared = new Map<string, Promise<Runtime>>();

/**
 * The container's runtime for `config` (default: from the environment), built on first use. The
 * configuration is read at once, so a bad variable fails the cold start; a failed build (e.g. S3
 * unreachable) is retried by the next invocation. Another configuration gets a runtime of its own,
 * never one built for different settings.
 */
export function sharedRuntime(
  config: LambdaConfig = loadLambdaConfig(),
  create: (config: LambdaConfig) => Promise<Runtime> = createRuntime,
): () => Promise<Runtime> {
  const key = JSON.stringify(config);
  return () => {
    let runtime = shared.get(key);
    if (!runtime) {
      const building = create(config);
      runtime = building;
      shared.set(key, building);
      building.catch(() => {
        if (shared.get(key) === building) shared.delete(key);
      });
    }
    return runtime;
  };
}
