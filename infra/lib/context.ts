import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import { z } from 'zod';
import { type AuditlakeStackProps, STACK_DEFAULTS } from './auditlake-stack.js';

/** The repository root (the Docker build context) and the bundled handlers, wherever `cdk` runs from. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const LAMBDA_CODE_ROOT = fileURLToPath(new URL('../../dist/lambda', import.meta.url));

const list = z
  .string()
  .optional()
  .transform((s) =>
    (s ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  );
const arn = (service: string) => z.string().regex(new RegExp(`^arn:aws[a-z-]*:${service}:`), `expected a ${service} ARN`);

/** Deployment settings as `cdk deploy -c key=value` gives them (all text), validated strictly. */
export const contextSchema = z
  .strictObject({
    lakeBucketName: z.string().optional().describe('Name of the lake bucket (default: generated).'),
    lakePrefix: z.string().default(STACK_DEFAULTS.lakePrefix).describe('Lake root inside the bucket.'),
    tieringAfterDays: z.coerce.number().int().positive().optional().describe('Move event files to Intelligent-Tiering after n days.'),
    objectLockMode: z
      .enum(['compliance', 'governance'], { error: 'expected compliance or governance' })
      .optional()
      .describe('S3 Object Lock on the lake bucket (default: off); needs objectLockDays. Only on a new bucket.'),
    objectLockDays: z.coerce.number().int().positive().optional().describe('Days every object version is locked.'),
    retentionDays: z.coerce.number().int().positive().optional().describe('Expire event, alert and quarantine files after n days.'),
    signDigests: z
      .enum(['true', 'false'], { error: 'expected true or false' })
      .default('false')
      .describe('Create a KMS key (ECC_NIST_P256) the writers sign the digest chain with.'),
    dasStreamArn: arn('kinesis').optional().describe('ARN of the DAS stream aws-rds-das-<resource id>.'),
    dasResourceId: z
      .string()
      .regex(/^(cluster|db)-[A-Za-z0-9]+$/, 'a resource id looks like cluster-ABC123 (not the cluster name)')
      .optional()
      .describe('DbClusterResourceId (or DbiResourceId) the DAS data keys are bound to.'),
    dasKmsKeyArn: arn('kms').optional().describe('KMS key the activity stream was started with.'),
    dasExcludeUsers: list.describe('Users whose DAS events are dropped, comma-separated (e.g. rdsadmin).'),
    parallelizationFactor: z.coerce.number().int().min(1).max(10).default(1).describe('Concurrent Lambda batches per shard.'),
    logGroups: list.describe('CloudWatch Logs groups to subscribe, comma-separated.'),
    logsBucket: z.string().optional().describe('Existing bucket where PostgreSQL log files are dropped.'),
    logsPrefix: z.string().default('').describe('Key prefix of the log files in logsBucket.'),
    proxyUpstream: z
      .string()
      .regex(/^[^:\s]+:\d{1,5}$/, 'expected host:port')
      .optional()
      .describe('PostgreSQL server the proxy relays to.'),
    proxyVpcId: z.string().optional().describe('VPC of the proxy (default: a new VPC).'),
    proxyImageRepository: z.string().optional().describe('ECR repository of a prebuilt image (default: build the Dockerfile).'),
    proxyImageTag: z.string().default('latest'),
    proxyDesiredCount: z.coerce.number().int().min(0).default(2),
    proxyClientCidrs: list.describe('Networks allowed to reach the proxy (default: the VPC).'),
    proxyTlsSecretArn: arn('secretsmanager')
      .optional()
      .describe('Secrets Manager secret (JSON with "cert" and "key", PEM) the proxy presents to clients; clients must then use TLS.'),
    proxyUpstreamTls: z
      .enum(['disable', 'require', 'verify-full'])
      .default('verify-full')
      .describe('TLS from the proxy to the database; verify-full checks the RDS certificate with the bundle in the image.'),
    privilegedUsers: list.describe('Users whose sessions the privileged-sessions report lists.'),
    projectionStart: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD')
      .optional()
      .describe('First event_date Athena partition projection covers (default 2020-01-01); earlier events are invisible in Athena.'),
    ocsfExportOut: z
      .string()
      .regex(/^s3:\/\/[^/]+/, 'expected s3://bucket[/prefix]')
      .optional()
      .describe('Export yesterday as OCSF to this S3 location every day (e.g. the Security Lake bucket); off when absent.'),
    ocsfExportSchedule: z.string().default('cron(15 0 * * ? *)').describe('EventBridge schedule of the OCSF export (UTC).'),
    securityLakeCustomSources: z
      .enum(['true', 'false'])
      .default('false')
      .describe('Register the OCSF classes as Security Lake custom sources (needs ocsfExportOut and securityLakeExternalId).'),
    securityLakeExternalId: z.string().optional().describe('External id the Security Lake provider roles require.'),
  })
  .refine((c) => c.securityLakeCustomSources === 'false' || (c.ocsfExportOut && c.securityLakeExternalId), {
    message: 'securityLakeCustomSources=true needs ocsfExportOut and securityLakeExternalId',
  })
  .refine((c) => (c.objectLockMode === undefined) === (c.objectLockDays === undefined), {
    message: 'objectLockMode and objectLockDays go together',
  })
  .refine((c) => c.retentionDays === undefined || c.objectLockDays === undefined || c.retentionDays >= c.objectLockDays, {
    message: 'retentionDays must be at least objectLockDays: a locked file cannot expire before its lock does',
  })
  .refine(
    (c) =>
      [c.dasStreamArn, c.dasResourceId, c.dasKmsKeyArn].every((v) => v === undefined) ||
      (c.dasStreamArn && c.dasResourceId && c.dasKmsKeyArn),
    {
      message: 'dasStreamArn, dasResourceId and dasKmsKeyArn go together',
    },
  );

/** Stack settings from the CDK context (only the keys of {@link contextSchema} are read). */
export function propsFromContext(context: Record<string, unknown>, lambdaCodeRoot = LAMBDA_CODE_ROOT): AuditlakeStackProps {
  const known = Object.fromEntries(Object.entries(context).filter(([k]) => k in contextSchema.shape));
  const parsed = contextSchema.safeParse(known);
  if (!parsed.success) throw new Error(`invalid auditlake deployment settings:\n${z.prettifyError(parsed.error)}`);
  const c = parsed.data;
  return {
    lakeBucketName: c.lakeBucketName,
    lakePrefix: c.lakePrefix,
    noncurrentVersionDays: STACK_DEFAULTS.noncurrentVersionDays,
    tieringAfterDays: c.tieringAfterDays,
    objectLock: c.objectLockMode && c.objectLockDays ? { mode: c.objectLockMode, days: c.objectLockDays } : undefined,
    retentionDays: c.retentionDays,
    signDigests: c.signDigests === 'true',
    lambdaCodeRoot,
    das:
      c.dasStreamArn && c.dasResourceId && c.dasKmsKeyArn
        ? {
            streamArn: c.dasStreamArn,
            resourceId: c.dasResourceId,
            kmsKeyArn: c.dasKmsKeyArn,
            excludeUsers: c.dasExcludeUsers,
            parallelizationFactor: c.parallelizationFactor,
            batchSize: STACK_DEFAULTS.dasBatchSize,
            maxBatchingWindow: Duration.seconds(STACK_DEFAULTS.dasBatchingWindow.toSeconds()),
          }
        : undefined,
    logGroups: c.logGroups,
    logsBucket: c.logsBucket ? { name: c.logsBucket, prefix: c.logsPrefix } : undefined,
    proxy: c.proxyUpstream
      ? {
          upstream: c.proxyUpstream,
          vpcId: c.proxyVpcId,
          image: c.proxyImageRepository ? { repositoryName: c.proxyImageRepository, tag: c.proxyImageTag } : { directory: REPO_ROOT },
          desiredCount: c.proxyDesiredCount,
          cpu: 512,
          memoryMiB: 1024,
          clientCidrs: c.proxyClientCidrs,
          tlsSecretArn: c.proxyTlsSecretArn,
          upstreamTls: c.proxyUpstreamTls,
        }
      : undefined,
    databaseName: STACK_DEFAULTS.databaseName,
    workGroupName: STACK_DEFAULTS.workGroupName,
    ocsfExport: c.ocsfExportOut
      ? {
          out: c.ocsfExportOut,
          schedule: c.ocsfExportSchedule,
          image: c.proxyImageRepository ? { repositoryName: c.proxyImageRepository, tag: c.proxyImageTag } : { directory: REPO_ROOT },
          securityLake: c.securityLakeCustomSources === 'true' ? { externalId: c.securityLakeExternalId! } : undefined,
        }
      : undefined,
    privilegedUsers: c.privilegedUsers.length > 0 ? c.privilegedUsers : [...STACK_DEFAULTS.privilegedUsers],
    bytesScannedCutoffPerQuery: STACK_DEFAULTS.bytesScannedCutoffPerQuery,
    projectionStart: c.projectionStart,
  };
}
