import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as destinations from 'aws-cdk-lib/aws-logs-destinations';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { heapMbFor } from '../../src/lambda/heap.js';
import type { LakeBucket } from './lake-bucket.js';

/** The handlers `npm run build:lambda` bundles, each in `dist/lambda/<name>/`. */
export type HandlerName = 'kinesis-das' | 'cloudwatch-logs' | 's3-objects';

/** An Aurora Database Activity Stream to read. */
export interface DasSource {
  /** ARN of the stream `aws-rds-das-<resource id>`. */
  streamArn: string;
  /** The cluster (`cluster-…`) or instance (`db-…`) resource id its data keys are bound to. */
  resourceId: string;
  /** ARN of the KMS key the activity stream was started with. */
  kmsKeyArn: string;
  /** Users whose events are dropped and counted, e.g. rdsadmin. */
  excludeUsers: string[];
  /** Concurrent batches per shard (1–10). */
  parallelizationFactor: number;
  batchSize: number;
  maxBatchingWindow: Duration;
}

/** Options of {@link IngestFunctions}. */
export interface IngestFunctionsProps {
  lake: LakeBucket;
  alerts: sns.ITopic;
  /** Folder holding one folder per handler (default: the repository's `dist/lambda`). */
  codeRoot: string;
  das?: DasSource;
  /** CloudWatch Logs groups of RDS/Aurora PostgreSQL to subscribe to. */
  logGroups: string[];
  /** A bucket (and key prefix) where PostgreSQL log files are dropped. */
  logsBucket?: { name: string; prefix: string };
}

/** Memory and time the handlers get: DuckDB converts staged rows to Parquet in-process (256 MB buffer cap). */
const SIZING: Record<HandlerName, { memoryMb: number; timeout: Duration; tmp: Size }> = {
  'kinesis-das': { memoryMb: 2048, timeout: Duration.minutes(5), tmp: Size.gibibytes(2) },
  'cloudwatch-logs': { memoryMb: 1024, timeout: Duration.minutes(2), tmp: Size.gibibytes(1) },
  's3-objects': { memoryMb: 3008, timeout: Duration.minutes(15), tmp: Size.gibibytes(10) },
};

/**
 * The three ingest Lambdas (Node.js 22, x86_64 for DuckDB's bundled linux-x64 library) with their
 * triggers: a Kinesis mapping on the DAS stream (partial batch responses, bisect on error, retries,
 * failed batches described in an SQS queue), CloudWatch Logs subscription filters, and S3
 * object-created notifications. Each function has its own role with only what it uses.
 */
export class IngestFunctions extends Construct {
  readonly functions: Partial<Record<HandlerName, lambda.Function>> = {};
  readonly failedBatches?: sqs.Queue;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: IngestFunctionsProps,
  ) {
    super(scope, id);
    if (props.das) {
      const das = props.das;
      const fn = this.handler('kinesis-das', {
        DAS_RESOURCE_ID: das.resourceId,
        ...(das.excludeUsers.length > 0 ? { DAS_EXCLUDE_USERS: das.excludeUsers.join(',') } : {}),
      });
      // The data keys: Decrypt only under the encryption context DAS binds them to (this cluster or instance).
      const contextKey = das.resourceId.startsWith('db-') ? 'aws:rds:db-id' : 'aws:rds:dbc-id';
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'DecryptDasDataKeys',
          actions: ['kms:Decrypt'],
          resources: [das.kmsKeyArn],
          conditions: { StringEquals: { [`kms:EncryptionContext:${contextKey}`]: das.resourceId } },
        }),
      );
      // The stream itself is encrypted with the same key: Decrypt through Kinesis, for this stream only.
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'DecryptDasStream',
          actions: ['kms:Decrypt'],
          resources: [das.kmsKeyArn],
          conditions: {
            StringEquals: {
              'kms:ViaService': `kinesis.${Stack.of(this).region}.amazonaws.com`,
              'kms:EncryptionContext:aws:kinesis:arn': das.streamArn,
            },
          },
        }),
      );
      this.failedBatches = new sqs.Queue(this, 'FailedDasBatches', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      fn.addEventSource(
        new KinesisEventSource(kinesis.Stream.fromStreamArn(this, 'DasStream', das.streamArn), {
          startingPosition: lambda.StartingPosition.TRIM_HORIZON,
          batchSize: das.batchSize,
          maxBatchingWindow: das.maxBatchingWindow,
          parallelizationFactor: das.parallelizationFactor,
          bisectBatchOnError: true,
          reportBatchItemFailures: true,
          retryAttempts: 10,
          // DAS streams keep records 24 hours; a batch still failing then is described in the queue.
          maxRecordAge: Duration.hours(24),
          onFailure: new SqsDlq(this.failedBatches),
        }),
      );
    }
    if (props.logGroups.length > 0) {
      const fn = this.handler('cloudwatch-logs', {});
      props.logGroups.forEach((name, i) => {
        new logs.SubscriptionFilter(this, `Subscription${i}`, {
          logGroup: logs.LogGroup.fromLogGroupName(this, `LogGroup${i}`, name),
          destination: new destinations.LambdaDestination(fn),
          filterPattern: logs.FilterPattern.allEvents(),
        });
      });
    }
    if (props.logsBucket) {
      const { name, prefix } = props.logsBucket;
      const fn = this.handler('s3-objects', {});
      const bucket = s3.Bucket.fromBucketName(this, 'LogsBucket', name);
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects(`${prefix}*`)] }));
      bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(fn), prefix ? { prefix } : {});
    }
  }

  /** One handler's function, role (lake, alerts topic, its own log group) and log group. */
  private handler(name: HandlerName, env: Record<string, string>): lambda.Function {
    const codeDir = join(this.props.codeRoot, name);
    if (!existsSync(join(codeDir, 'index.mjs'))) throw new Error(`${codeDir}/index.mjs is missing: run npm run build:lambda first`);
    const logGroup = new logs.LogGroup(this, `${name}-logs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(this, `${name}-role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    );
    const source = name === 'kinesis-das' ? 'das' : 'pgaudit';
    for (const s of this.props.lake.writerStatements(source, { s3Inputs: name === 's3-objects' })) role.addToPolicy(s);
    this.props.lake.grantSigning(role);
    role.addToPolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.props.alerts.topicArn] }));
    const sizing = SIZING[name];
    const fn = new lambda.Function(this, name, {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.X86_64,
      code: lambda.Code.fromAsset(codeDir),
      handler: 'index.handler',
      role,
      logGroup,
      memorySize: sizing.memoryMb,
      timeout: sizing.timeout,
      ephemeralStorageSize: sizing.tmp,
      environment: {
        LAKE_URL: this.props.lake.url,
        ALERTS_TOPIC_ARN: this.props.alerts.topicArn,
        NODE_OPTIONS: `--enable-source-maps --max-old-space-size=${heapMbFor(sizing.memoryMb)}`,
        ...(this.props.lake.signingKey ? { SIGN_KMS_KEY_ID: this.props.lake.signingKey.keyArn } : {}),
        ...env,
      },
      description: `auditlake ${name}: audit records into the lake`,
    });
    this.functions[name] = fn;
    return fn;
  }
}
