import { Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { LakeBucket } from './lake-bucket.js';

/** The port clients connect to on the load balancer, and the port the proxy listens on in its container. */
export const PROXY_LISTENER_PORT = 5432;
export const PROXY_CONTAINER_PORT = 6432;
/** ECS waits this long after SIGTERM before SIGKILL; the proxy lets sessions finish for 10 s, then flushes. */
export const PROXY_STOP_TIMEOUT = Duration.seconds(30);

/** Options of {@link ProxyService}. */
export interface ProxyServiceProps {
  vpc: ec2.IVpc;
  lake: LakeBucket;
  /** The PostgreSQL server, host:port, reachable from the VPC. */
  upstream: string;
  /** Image: the repository's Dockerfile (built by `cdk deploy`), or an image already in ECR. */
  image: { directory: string } | { repositoryName: string; tag: string };
  desiredCount: number;
  cpu: number;
  memoryMiB: number;
  /** Networks allowed to connect to the proxy (default: the VPC). */
  clientCidrs: string[];
  /** Secret (JSON `cert`, `key`: PEM) of the certificate clients see; with it, clients must use TLS. */
  tlsSecretArn?: string;
  /** TLS to the database; `verify-full` uses the RDS CA bundle shipped in the image. */
  upstreamTls: 'disable' | 'require' | 'verify-full';
}

/** Where the Dockerfile puts the RDS CA bundle (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem). */
export const RDS_CA_BUNDLE = '/app/certs/rds-global-bundle.pem';

/** The proxy's command line in the task, from the props. */
export function proxyCommand(props: Pick<ProxyServiceProps, 'upstream' | 'tlsSecretArn' | 'upstreamTls'>, lakeUrl: string): string[] {
  const command = ['proxy', '--listen', `0.0.0.0:${PROXY_CONTAINER_PORT}`, '--upstream', props.upstream, '--out', lakeUrl];
  command.push('--upstream-tls', props.upstreamTls);
  if (props.upstreamTls !== 'disable') command.push('--upstream-ca', RDS_CA_BUNDLE);
  // The certificate comes from the secret (AUDITLAKE_TLS_CERT/KEY); a plaintext client is refused.
  if (props.tlsSecretArn) command.push('--client-tls', 'require');
  return command;
}

/**
 * The recording proxy on Fargate behind an internal Network Load Balancer: clients connect to the NLB
 * on 5432, which forwards TCP to the tasks on 6432. Events go to the lake; logs (JSON lines) to
 * CloudWatch. It scales by task count: each task records the sessions the NLB gives it.
 */
export class ProxyService extends Construct {
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.NetworkLoadBalancer;

  constructor(scope: Construct, id: string, props: ProxyServiceProps) {
    super(scope, id);
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc: props.vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const taskRole = new iam.Role(this, 'TaskRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    for (const s of props.lake.writerStatements('proxy')) taskRole.addToPolicy(s);
    props.lake.grantSigning(taskRole);
    const sign = props.lake.signingKey ? ['--sign-kms-key', props.lake.signingKey.keyArn] : [];
    const task = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: props.cpu,
      memoryLimitMiB: props.memoryMiB,
      taskRole,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    const image =
      'directory' in props.image
        ? ecs.ContainerImage.fromAsset(props.image.directory)
        : ecs.ContainerImage.fromEcrRepository(
            ecr.Repository.fromRepositoryName(this, 'Repository', props.image.repositoryName),
            props.image.tag,
          );
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH });
    const tlsSecret = props.tlsSecretArn ? secretsmanager.Secret.fromSecretCompleteArn(this, 'TlsSecret', props.tlsSecretArn) : null;
    // The root filesystem is read-only; staging files and DuckDB spill go to a task volume at /tmp.
    task.addVolume({ name: 'tmp' });
    const container = task.addContainer('proxy', {
      image,
      command: [...proxyCommand(props, props.lake.url), ...sign],
      readonlyRootFilesystem: true,
      environment: { AWS_REGION: Stack.of(this).region, AUDITLAKE_HEALTH_PORT: String(PROXY_CONTAINER_PORT) },
      secrets: tlsSecret
        ? {
            AUDITLAKE_TLS_CERT: ecs.Secret.fromSecretsManager(tlsSecret, 'cert'),
            AUDITLAKE_TLS_KEY: ecs.Secret.fromSecretsManager(tlsSecret, 'key'),
          }
        : undefined,
      portMappings: [{ containerPort: PROXY_CONTAINER_PORT, protocol: ecs.Protocol.TCP }],
      stopTimeout: PROXY_STOP_TIMEOUT,
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'proxy' }),
      healthCheck: {
        command: [
          'CMD',
          'node',
          '-e',
          `require('node:net').connect(${PROXY_CONTAINER_PORT},'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))`,
        ],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(3),
        startPeriod: Duration.seconds(20),
        retries: 3,
      },
    });
    container.addMountPoints({ containerPath: '/tmp', sourceVolume: 'tmp', readOnly: false });
    const securityGroup = new ec2.SecurityGroup(this, 'TaskSecurityGroup', { vpc: props.vpc, description: 'auditlake proxy tasks' });
    for (const cidr of props.clientCidrs) {
      securityGroup.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(PROXY_CONTAINER_PORT), 'PostgreSQL clients through the NLB');
    }
    this.service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition: task,
      desiredCount: props.desiredCount,
      securityGroups: [securityGroup],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      circuitBreaker: { rollback: true },
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
    });
    // The NLB has its own security group: only the client networks reach it, and the tasks accept the
    // NLB's health checks by that group. Clients' own addresses reach the tasks (client IP preserved).
    const nlbSecurityGroup = new ec2.SecurityGroup(this, 'NlbSecurityGroup', { vpc: props.vpc, description: 'auditlake proxy NLB' });
    for (const cidr of props.clientCidrs) {
      nlbSecurityGroup.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(PROXY_LISTENER_PORT), 'PostgreSQL clients');
    }
    securityGroup.addIngressRule(nlbSecurityGroup, ec2.Port.tcp(PROXY_CONTAINER_PORT), 'NLB health checks');
    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, 'Nlb', {
      vpc: props.vpc,
      internetFacing: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [nlbSecurityGroup],
    });
    const listener = this.loadBalancer.addListener('Postgres', { port: PROXY_LISTENER_PORT, protocol: elbv2.Protocol.TCP });
    const targets = listener.addTargets('Proxy', {
      port: PROXY_CONTAINER_PORT,
      protocol: elbv2.Protocol.TCP,
      targets: [this.service.loadBalancerTarget({ containerName: 'proxy', containerPort: PROXY_CONTAINER_PORT })],
      // Sessions are long-lived: give them the proxy's own drain time when a task stops.
      deregistrationDelay: PROXY_STOP_TIMEOUT,
      healthCheck: { protocol: elbv2.Protocol.TCP, interval: Duration.seconds(10) },
    });
    // IP targets over TCP lose the client's address by default: the proxy would record the NLB's as
    // client_addr, and the brute-force and new-address rules would lose their key.
    targets.setAttribute('preserve_client_ip.enabled', 'true');
  }
}
