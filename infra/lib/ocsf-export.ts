import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { DEFAULT_SOURCES } from '../../src/export/ocsf/map.js';
import { type LakeBucket, prefixAccess } from './lake-bucket.js';

/** Options of {@link OcsfExport}. */
export interface OcsfExportProps {
  vpc: ec2.IVpc;
  lake: LakeBucket;
  /** Where the OCSF files go: `s3://bucket[/prefix]`, e.g. the Security Lake bucket. */
  out: string;
  /** EventBridge schedule expression; each run exports yesterday (UTC). */
  schedule: string;
  image: { directory: string } | { repositoryName: string; tag: string };
  /** Register the two classes as Security Lake custom sources (CreateCustomLogSource). */
  securityLake?: { externalId: string };
}

/** The bucket and key prefix of an `s3://bucket[/prefix]` URL. */
function s3Location(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new Error(`ocsfExportOut ${url}: expected s3://bucket[/prefix]`);
  return { bucket: m[1], prefix: m[2].replace(/\/+$/, '') };
}

/**
 * The OCSF export as a scheduled Fargate task: `auditlake export ocsf` for yesterday, every day (by
 * default), from the lake to an S3 location in the Security Lake custom-source layout. Optionally
 * registers the two classes as Security Lake custom sources (Authentication and Datastore Activity;
 * CloudFormation has no resource for them, so this calls CreateCustomLogSource, and
 * DeleteCustomLogSource when the stack goes), with a Glue crawler role for Security Lake.
 */
export class OcsfExport extends Construct {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: OcsfExportProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const out = s3Location(props.out);
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc: props.vpc });
    const taskRole = new iam.Role(this, 'TaskRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    for (const s of props.lake.accessStatements(false)) taskRole.addToPolicy(s);
    const outArn = `arn:${stack.partition}:s3:::${out.bucket}`;
    if (out.prefix) for (const s of prefixAccess(outArn, out.prefix, true)) taskRole.addToPolicy(s);
    else
      taskRole.addToPolicy(
        new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: [`${outArn}/ext/*`] }),
      );

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: 1024,
      memoryLimitMiB: 2048,
      taskRole,
      ephemeralStorageGiB: 50,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    const image =
      'directory' in props.image
        ? ecs.ContainerImage.fromAsset(props.image.directory)
        : ecs.ContainerImage.fromEcrRepository(
            ecr.Repository.fromRepositoryName(this, 'Repository', props.image.repositoryName),
            props.image.tag,
          );
    this.taskDefinition.addContainer('export', {
      image,
      command: [
        'export',
        'ocsf',
        '--lake',
        props.lake.url,
        '--out',
        props.out,
        '--region',
        stack.region,
        '--account-id',
        stack.account,
        '--since',
        'yesterday',
        '--until',
        'yesterday',
      ],
      // No proxy port to probe in this task.
      environment: { AWS_REGION: stack.region, AUDITLAKE_HEALTH_PORT: 'off' },
      logging: ecs.LogDrivers.awsLogs({
        logGroup: new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH }),
        streamPrefix: 'ocsf-export',
      }),
    });
    const subnetType = props.vpc.privateSubnets.length > 0 ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PUBLIC;
    this.rule = new events.Rule(this, 'Schedule', {
      schedule: events.Schedule.expression(props.schedule),
      description: 'auditlake: export yesterday as OCSF',
    });
    this.rule.addTarget(
      new targets.EcsTask({
        cluster,
        taskDefinition: this.taskDefinition,
        subnetSelection: { subnetType },
        assignPublicIp: subnetType === ec2.SubnetType.PUBLIC,
      }),
    );

    if (props.securityLake) this.registerCustomSources(props.securityLake.externalId);
  }

  /** One custom source per class, as Security Lake asks (eventClasses values of the CreateCustomLogSource API). */
  private registerCustomSources(externalId: string): void {
    const stack = Stack.of(this);
    const crawlerRole = new iam.Role(this, 'SecurityLakeCrawlerRole', {
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSGlueServiceRole')],
      description: 'Security Lake Glue crawler of the auditlake custom sources',
    });
    for (const [cid, sourceName, eventClass] of [
      ['AuthSource', DEFAULT_SOURCES.authentication, 'AUTHENTICATION'],
      ['DatastoreSource', DEFAULT_SOURCES.datastore, 'DATASTORE_ACTIVITY'],
    ] as const) {
      const source = new cr.AwsCustomResource(this, cid, {
        onCreate: {
          service: 'SecurityLake',
          action: 'createCustomLogSource',
          parameters: {
            sourceName,
            eventClasses: [eventClass],
            configuration: {
              crawlerConfiguration: { roleArn: crawlerRole.roleArn },
              providerIdentity: { principal: stack.account, externalId },
            },
          },
          physicalResourceId: cr.PhysicalResourceId.of(sourceName),
        },
        onDelete: { service: 'SecurityLake', action: 'deleteCustomLogSource', parameters: { sourceName } },
        policy: cr.AwsCustomResourcePolicy.fromStatements([
          new iam.PolicyStatement({
            actions: [
              'securitylake:CreateCustomLogSource',
              'securitylake:DeleteCustomLogSource',
              'glue:CreateCrawler',
              'glue:CreateDatabase',
              'glue:CreateTable',
              'glue:StartCrawlerSchedule',
              'glue:DeleteCrawler',
              'iam:GetRole',
              'iam:CreateRole',
              'iam:PutRolePolicy',
              'iam:DeleteRolePolicy',
              'iam:DeleteRole',
              'lakeformation:RegisterResource',
              'lakeformation:GrantPermissions',
              's3:ListBucket',
              's3:PutObject',
            ],
            resources: ['*'],
          }),
          new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [crawlerRole.roleArn] }),
        ]),
        installLatestAwsSdk: false,
      });
      source.node.addDependency(crawlerRole);
    }
  }
}
