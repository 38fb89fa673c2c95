import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { S3_URL } from '../lake/s3-url.js';

/**
 * The configuration of the Lambda handlers: one strict object built from the function's environment
 * variables. A bad value fails the cold start with a message naming the variable.
 */

const RESOURCE_ID = /^(cluster|db)-[A-Za-z0-9]+$/;

/** The environment variables the handlers read, validated. */
export const lambdaEnvSchema = z.object({
  LAKE_URL: z
    .string({ error: 'LAKE_URL is required: the lake root, s3://bucket/prefix' })
    .regex(S3_URL, 'expected s3://bucket/prefix')
    .describe('Lake root in S3, s3://bucket/prefix.'),
  DAS_RESOURCE_ID: z
    .string()
    .regex(RESOURCE_ID, 'a DAS resource id looks like cluster-ABC123 or db-ABC123 (not the cluster name)')
    .optional()
    .describe('Resource id the DAS data keys are bound to; default: from the stream name aws-rds-das-<resource id>.'),
  DAS_EXCLUDE_USERS: z
    .string()
    .optional()
    .describe('Comma-separated users whose DAS events are dropped and counted, e.g. rdsadmin,rdssec.'),
  RULES_DIR: z.string().min(1).optional().describe('Folder of alert rules (YAML); default: the rules bundled with the function.'),
  ALERTS_TOPIC_ARN: z
    .string()
    .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'expected an SNS topic ARN')
    .optional()
    .describe('SNS topic alerts are published to, besides the lake.'),
  SSE_KMS_KEY_ID: z.string().min(1).optional().describe('KMS key for SSE-KMS on lake objects; default SSE-S3.'),
  SIGN_KMS_KEY_ID: z
    .string()
    .min(1)
    .optional()
    .describe("KMS asymmetric key (SIGN_VERIFY) that signs each unit's digest; default: digests chained, unsigned."),
  POLICIES_DIR: z.string().min(1).optional().describe('Folder of audit policies (YAML): events get policy_ids; default: none.'),
  POLICY_MODE: z.enum(['tag', 'only']).optional().describe('tag (default) keeps every event; only keeps the events a policy selects.'),
  POLICY_MEMBERS: z.string().min(1).optional().describe('Role membership snapshot (auditlake policy members) for policies with roles.'),
});

/** The handlers' configuration. */
export interface LambdaConfig {
  lakeUrl: string;
  dasResourceId?: string;
  dasExcludeUsers: string[];
  rulesDir: string;
  alertsTopicArn?: string;
  sseKmsKeyId?: string;
  signKmsKeyId?: string;
  /** Audit policies to tag (and with mode `only`, select) events with. */
  policies?: { dir: string; mode: 'tag' | 'only'; members?: string };
}

/** The rules folder shipped with the code: beside the bundle (`dist/lambda/<handler>/rules`), or the checkout's. */
export function bundledRulesDir(): string {
  const beside = fileURLToPath(new URL('./rules', import.meta.url));
  return existsSync(beside) ? beside : fileURLToPath(new URL('../../rules', import.meta.url));
}

/** Builds the configuration from environment variables; throws one readable message listing every problem. */
export function loadLambdaConfig(env: Record<string, string | undefined> = process.env): LambdaConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => k in lambdaEnvSchema.shape && v !== undefined && v !== ''));
  const result = lambdaEnvSchema.safeParse(present);
  if (!result.success) throw new Error(`invalid auditlake Lambda configuration:\n${z.prettifyError(result.error)}`);
  const e = result.data;
  if (!e.POLICIES_DIR && (e.POLICY_MODE || e.POLICY_MEMBERS))
    throw new Error('invalid auditlake Lambda configuration:\nPOLICY_MODE and POLICY_MEMBERS go with POLICIES_DIR');
  return {
    lakeUrl: e.LAKE_URL,
    dasResourceId: e.DAS_RESOURCE_ID,
    dasExcludeUsers: (e.DAS_EXCLUDE_USERS ?? '')
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean),
    rulesDir: e.RULES_DIR ?? bundledRulesDir(),
    alertsTopicArn: e.ALERTS_TOPIC_ARN,
    sseKmsKeyId: e.SSE_KMS_KEY_ID,
    signKmsKeyId: e.SIGN_KMS_KEY_ID,
    policies: e.POLICIES_DIR ? { dir: e.POLICIES_DIR, mode: e.POLICY_MODE ?? 'tag', members: e.POLICY_MEMBERS } : undefined,
  };
}
