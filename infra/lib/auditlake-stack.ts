import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { LakeCatalog } from './catalog.js';
import { type DasSource, IngestFunctions } from './ingest-functions.js';
import { LakeBucket } from './lake-bucket.js';
import { OcsfExport, type OcsfExportProps } from './ocsf-export.js';
import { ProxyService, type ProxyServiceProps } from './proxy-service.js';

/** Everything one deployment is configured with. */
export interface AuditlakeStackProps extends StackProps {
  lakeBucketName?: string;
  lakePrefix: string;
  noncurrentVersionDays: number;
  tieringAfterDays?: number;
  /** S3 Object Lock on the lake bucket (default off). */
  objectLock?: { mode: 'compliance' | 'governance'; days: number };
  /** Expire event, alert and quarantine files after n days (default: kept). */
  retentionDays?: number;
  /** A KMS key signs the lake's digests. */
  signDigests?: boolean;
  /** Folder with one folder per bundled handler (`dist/lambda`). */
  lambdaCodeRoot: string;
  das?: DasSource;
  logGroups: string[];
  logsBucket?: { name: string; prefix: string };
  proxy?: Omit<ProxyServiceProps, 'vpc' | 'lake'> & { vpcId?: string };
  /** The daily OCSF export (and optional Security Lake custom sources). */
  ocsfExport?: Omit<OcsfExportProps, 'vpc' | 'lake'>;
  databaseName: string;
  workGroupName: string;
  privilegedUsers: string[];
  bytesScannedCutoffPerQuery: number;
  /** First event_date Athena's partition projection covers (default 2020-01-01). */
  projectionStart?: string;
}

/**
 * auditlake in one account: the lake bucket, the Glue tables and Athena workgroup over it, the alerts
 * topic, the ingest Lambdas for whatever sources are configured, and the recording proxy on ECS.
 */
export class AuditlakeStack extends Stack {
  readonly lake: LakeBucket;
  readonly alerts: sns.Topic;
  readonly ingest: IngestFunctions;
  readonly proxy?: ProxyService;
  readonly ocsfExport?: OcsfExport;

  constructor(scope: Construct, id: string, props: AuditlakeStackProps) {
    super(scope, id, props);
    this.lake = new LakeBucket(this, 'Lake', {
      bucketName: props.lakeBucketName,
      prefix: props.lakePrefix,
      noncurrentVersionDays: props.noncurrentVersionDays,
      tieringAfterDays: props.tieringAfterDays,
      objectLock: props.objectLock,
      retentionDays: props.retentionDays,
      signDigests: props.signDigests,
    });
    new LakeCatalog(this, 'Catalog', {
      lake: this.lake,
      databaseName: props.databaseName,
      workGroupName: props.workGroupName,
      privilegedUsers: props.privilegedUsers,
      bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery,
      projectionStart: props.projectionStart,
    });
    // Encrypted with SNS's AWS-managed key: publishers in the account need no key permissions of their own.
    this.alerts = new sns.Topic(this, 'Alerts', {
      displayName: 'auditlake alerts',
      masterKey: kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
    this.ingest = new IngestFunctions(this, 'Ingest', {
      lake: this.lake,
      alerts: this.alerts,
      codeRoot: props.lambdaCodeRoot,
      das: props.das,
      logGroups: props.logGroups,
      logsBucket: props.logsBucket,
    });
    let proxyVpc: ec2.IVpc | undefined;
    if (props.proxy) {
      const { vpcId, ...proxy } = props.proxy;
      const vpc = vpcId
        ? ec2.Vpc.fromLookup(this, 'Vpc', { vpcId })
        : new ec2.Vpc(this, 'Vpc', { maxAzs: 2, natGateways: 1, restrictDefaultSecurityGroup: true });
      proxyVpc = vpc;
      this.proxy = new ProxyService(this, 'Proxy', {
        ...proxy,
        vpc,
        lake: this.lake,
        clientCidrs: proxy.clientCidrs.length > 0 ? proxy.clientCidrs : [vpc.vpcCidrBlock],
      });
      new CfnOutput(this, 'ProxyEndpoint', {
        value: this.proxy.loadBalancer.loadBalancerDnsName,
        description: 'Point clients here (port 5432)',
      });
    }
    if (props.ocsfExport) {
      // The export task only needs S3: without the proxy's VPC it runs in public subnets, no NAT gateway.
      const vpc =
        proxyVpc ??
        new ec2.Vpc(this, 'ExportVpc', {
          maxAzs: 2,
          natGateways: 0,
          subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
          restrictDefaultSecurityGroup: true,
        });
      this.ocsfExport = new OcsfExport(this, 'OcsfExport', { ...props.ocsfExport, vpc, lake: this.lake });
    }
    new CfnOutput(this, 'LakeUrl', { value: this.lake.url });
    new CfnOutput(this, 'AlertsTopicArn', { value: this.alerts.topicArn });
    if (this.lake.signingKey)
      new CfnOutput(this, 'DigestSigningKeyArn', { value: this.lake.signingKey.keyArn, description: 'auditlake verify --kms-key <this>' });
  }
}

/** Defaults of the optional settings. */
export const STACK_DEFAULTS = {
  lakePrefix: 'auditlake',
  noncurrentVersionDays: 30,
  databaseName: 'auditlake',
  workGroupName: 'auditlake',
  privilegedUsers: ['postgres', 'rdsadmin'],
  bytesScannedCutoffPerQuery: 10_000_000_000,
  dasBatchSize: 500,
  dasBatchingWindow: Duration.seconds(10),
} as const;
