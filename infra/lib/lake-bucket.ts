import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
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
  /**
   * S3 Object Lock: every object version is kept unchanged for `days` after it is written. In
   * `compliance` mode nobody (root included) can shorten that; in `governance` mode only a principal
   * with s3:BypassGovernanceRetention can, which no auditlake role has. Absent: off (the default).
   */
  objectLock?: { mode: 'compliance' | 'governance'; days: number };
  /** Days after which event, alert and quarantine files expire (e.g. 90 or 365); kept forever when absent. */
  retentionDays?: number;
  /** Create a KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY) that signs the lake's digest chain. */
  signDigests?: boolean;
}

/**
 * What a writer of the lake must never do, denied explicitly (a deny wins over any allow): destroy an
 * object version (only lifecycle expiry does, after the retention period), change retention or legal
 * holds, bypass governance mode, or change the bucket's lock, versioning or lifecycle configuration.
 * Writers still overwrite and delete keys: on a versioned bucket that adds a version or a delete
 * marker, and the earlier version stays (locked, under Object Lock).
 */
export const WRITER_DENIED_ACTIONS = [
  's3:DeleteObjectVersion',
  's3:PutObjectRetention',
  's3:PutObjectLegalHold',
  's3:BypassGovernanceRetention',
  's3:PutBucketObjectLockConfiguration',
  's3:PutBucketVersioning',
  's3:PutLifecycleConfiguration',
];

/** The folders whose files {@link LakeBucketProps.retentionDays} expires. */
export const RETAINED_FOLDERS = ['events/', 'alerts/', '_quarantine/'];

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
  /** The key that signs digests, when {@link LakeBucketProps.signDigests} is set. */
  readonly signingKey?: kms.Key;

  constructor(scope: Construct, id: string, props: LakeBucketProps) {
    super(scope, id);
    this.prefix = props.prefix.replace(/^\/+|\/+$/g, '');
    const lifecycleRules: s3.LifecycleRule[] = [
      {
        id: 'old-versions-and-uploads',
        noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      },
      // Files of units that never committed (a writer killed before its commit record). The next writer of the
      // lake removes them an hour after their owner is gone; this catches a lake nobody writes again. Two days
      // outlast any live unit (a Lambda's is minutes; an ingest's, hours at most).
      { id: 'uncommitted-units', prefix: `${this.prefix}/_state/pending/`, expiration: Duration.days(2) },
      { id: 'athena-results', prefix: ATHENA_RESULTS_PREFIX, expiration: Duration.days(30) },
    ];
    if (props.tieringAfterDays !== undefined) {
      lifecycleRules.push({
        id: 'events-tiering',
        prefix: `${this.prefix}/events/`,
        transitions: [{ storageClass: s3.StorageClass.INTELLIGENT_TIERING, transitionAfter: Duration.days(props.tieringAfterDays) }],
      });
    }
    if (props.retentionDays !== undefined) {
      for (const folder of RETAINED_FOLDERS) {
        lifecycleRules.push({
          id: `retention-${folder.replace(/\W/g, '')}`,
          prefix: `${this.prefix}/${folder}`,
          expiration: Duration.days(props.retentionDays),
        });
      }
    }
    const lock = props.objectLock;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      objectLockEnabled: lock ? true : undefined,
      objectLockDefaultRetention: lock
        ? lock.mode === 'compliance'
          ? s3.ObjectLockRetention.compliance(Duration.days(lock.days))
          : s3.ObjectLockRetention.governance(Duration.days(lock.days))
        : undefined,
      bucketName: props.bucketName,
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    if (props.signDigests) {
      this.signingKey = new kms.Key(this, 'DigestSigningKey', {
        keySpec: kms.KeySpec.ECC_NIST_P256,
        keyUsage: kms.KeyUsage.SIGN_VERIFY,
        description: 'auditlake: signs the digest chain of the lake (auditlake verify --kms-key)',
        removalPolicy: RemovalPolicy.RETAIN,
      });
    }
  }

  /** Lets a writer sign digests with the lake's key (kms:Sign, kms:GetPublicKey); a no-op without one. */
  grantSigning(role: iam.IGrantable): void {
    this.signingKey?.grant(role, 'kms:Sign', 'kms:GetPublicKey');
  }

  /** `s3://bucket/prefix`, the lake URL the handlers and the proxy are given. */
  get url(): string {
    return `s3://${this.bucket.bucketName}/${this.prefix}`;
  }

  /** Statements that let a principal read (and, with `write`, replace and delete) the lake's objects, nothing else; writers are denied {@link WRITER_DENIED_ACTIONS}. */
  accessStatements(write: boolean): iam.PolicyStatement[] {
    return prefixAccess(this.bucket.bucketArn, this.prefix, write);
  }

  /** What a writer of one source may do in the lake, and no more: see {@link writerAccess}. */
  writerStatements(source: LakeSource, extra: WriterExtras = {}): iam.PolicyStatement[] {
    return writerAccess(this.bucket.bucketArn, this.prefix, source, extra);
  }
}

/** The sources a writer records (the lake's `source=` partitions). */
export type LakeSource = 'pgaudit' | 'das' | 'proxy';

/** State a particular writer also keeps. */
export interface WriterExtras {
  /** The S3-objects handler's record of the log objects it ingested (`_state/s3-inputs/`). */
  s3Inputs?: boolean;
}

/**
 * Least privilege for a writer of one source (an ingest Lambda, the proxy task). It reads the lake (a unit
 * compares its records with those already stored, recovery reads journals, the rules' catch-up queries the
 * lake); it puts and deletes only its own source's files (events, quarantine, manifests, compacted-file
 * indexes: a re-ingest replaces them) and a unit's pending files and journal; it puts alerts; it may only
 * add digests, never delete them. Compaction of other sources, and any delete elsewhere, is not its to do.
 */
export function writerAccess(bucketArn: string, prefix: string, source: LakeSource, extra: WriterExtras = {}): iam.PolicyStatement[] {
  const under = (path: string) => `${bucketArn}/${prefix}/${path}`;
  const replaceable = [
    under(`events/source=${source}/*`),
    under(`_quarantine/source=${source}/*`),
    under(`_state/manifests/source=${source}/*`),
    under(`_state/compacted/events/source=${source}/*`),
    under('_state/pending/*'),
    under('_state/journal/*'),
    ...(extra.s3Inputs ? [under('_state/s3-inputs/*')] : []),
  ];
  return [
    new iam.PolicyStatement({
      sid: 'ListLake',
      actions: ['s3:ListBucket'],
      resources: [bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${prefix}/*`, prefix] } },
    }),
    new iam.PolicyStatement({ sid: 'ReadLake', actions: ['s3:GetObject'], resources: [under('*')] }),
    new iam.PolicyStatement({
      sid: 'WriteOwnSource',
      actions: ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      resources: replaceable,
    }),
    new iam.PolicyStatement({
      sid: 'AddAlertsAndDigests',
      actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
      resources: [under('alerts/*'), under('_state/digests/*'), under('_state/digest-head.json')],
    }),
    new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: WRITER_DENIED_ACTIONS, resources: [bucketArn, `${bucketArn}/*`] }),
  ];
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
    ...(write
      ? [new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: WRITER_DENIED_ACTIONS, resources: [bucketArn, `${bucketArn}/*`] })]
      : []),
  ];
}
