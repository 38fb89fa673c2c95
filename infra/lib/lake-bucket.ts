import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** Options of {@link LakeBucket}. */
export interface LakeBucketProps {
  /** Bucket name; default: generated. */
  bucketName?: string;
  /** Lake root inside the bucket, without slashes at either end, e.g. `auditlake`. */
  prefix: string;
  /** Days a replaced or deleted object version is kept (versioning protects the trail). */
  noncurrentVersionDays: number;
  /** Days after which event files move to S3 Intelligent-Tiering; none when absent. */
  tieringAfterDays?: number;
}

/** Folder of Athena query results in the lake bucket. */
export const ATHENA_RESULTS_PREFIX = 'athena-results/';

/**
 * The lake's bucket: encrypted at rest (SSE-S3; the writers ask for it on every object too), versioned,
 * closed to the public, TLS only, owner-enforced. Lifecycle: old versions expire, staging leftovers and
 * incomplete uploads are removed, Athena results are kept a month. Retained when the stack is deleted.
 */
export class LakeBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly prefix: string;

  constructor(scope: Construct, id: string, props: LakeBucketProps) {
    super(scope, id);
    this.prefix = props.prefix.replace(/^\/+|\/+$/g, '');
    const lifecycleRules: s3.LifecycleRule[] = [
      {
        id: 'old-versions-and-uploads',
        noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      },
      { id: 'staging-leftovers', prefix: `${this.prefix}/_state/tmp/`, expiration: Duration.days(1) },
      { id: 'athena-results', prefix: ATHENA_RESULTS_PREFIX, expiration: Duration.days(30) },
    ];
    if (props.tieringAfterDays !== undefined) {
      lifecycleRules.push({
        id: 'events-tiering',
        prefix: `${this.prefix}/events/`,
        transitions: [{ storageClass: s3.StorageClass.INTELLIGENT_TIERING, transitionAfter: Duration.days(props.tieringAfterDays) }],
      });
    }
    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: props.bucketName,
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** `s3://bucket/prefix`, the lake URL the handlers and the proxy are given. */
  get url(): string {
    return `s3://${this.bucket.bucketName}/${this.prefix}`;
  }

  /** Statements that let a principal read (and, with `write`, replace and delete) the lake's objects, nothing else. */
  accessStatements(write: boolean): iam.PolicyStatement[] {
    return prefixAccess(this.bucket.bucketArn, this.prefix, write);
  }
}

/** Read (and optionally write) access to the objects under a prefix of a bucket, and listing only that prefix. */
export function prefixAccess(bucketArn: string, prefix: string, write: boolean): iam.PolicyStatement[] {
  const actions = ['s3:GetObject'];
  if (write) actions.push('s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload');
  return [
    new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${prefix}/*`, prefix] } },
    }),
    new iam.PolicyStatement({ actions, resources: [`${bucketArn}/${prefix}/*`] }),
  ];
}
