import { readFileSync } from 'node:fs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_REPORT_SETTINGS, REPORTS } from '../../src/reports/definitions.js';
import { AuditlakeStack } from '../lib/auditlake-stack.js';
import { propsFromContext } from '../lib/context.js';
import { WRITER_DENIED_ACTIONS } from '../lib/lake-bucket.js';
import { CONTEXT, ENV, synthesize, testApp } from './synth.js';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
type Statement = { Effect: string; Action: string | string[]; Resource?: unknown; Condition?: Record<string, Record<string, unknown>> };

let resources: Resources;
let template: ReturnType<typeof synthesize>['template'];

/** Turns `Fn::Join` with `Ref`s into text (`<LogicalId>` for each reference), to compare with plain strings. */
function flat(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(flat);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if ('Ref' in o) return `<${o.Ref}>`;
    if ('Fn::GetAtt' in o) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => flat(p)).join(sep);
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, flat(v)]));
  }
  return value;
}

function ofType(type: string): [string, Record<string, unknown>][] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties]);
}

/** Every statement of every policy document in the template: IAM policies, role trust and inline policies, resource policies. */
function allStatements(): { where: string; statement: Statement }[] {
  const out: { where: string; statement: Statement }[] = [];
  const add = (where: string, doc: unknown) => {
    const s = (doc as { Statement?: Statement | Statement[] })?.Statement;
    for (const statement of Array.isArray(s) ? s : s ? [s] : []) out.push({ where, statement });
  };
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    for (const key of ['PolicyDocument', 'AssumeRolePolicyDocument', 'KeyPolicy']) if (key in p) add(`${id}.${key}`, p[key]);
    for (const policy of (p.Policies as { PolicyDocument: unknown }[] | undefined) ?? []) add(`${id}.Policies`, policy.PolicyDocument);
  }
  return out;
}

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const bucketRef = () => ofType('AWS::S3::Bucket')[0][0];

beforeAll(() => {
  ({ template } = synthesize());
  resources = template.toJSON().Resources as Resources;
});

describe('lake bucket', () => {
  it('is encrypted, versioned, private, TLS-only, with lifecycle rules', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'my-audit-lake',
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          }),
          Match.objectLike({ Prefix: 'auditlake/_state/pending/', ExpirationInDays: 2 }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });
});

describe('alerts topic', () => {
  it('is encrypted with KMS', () => {
    const topics = ofType('AWS::SNS::Topic');
    expect(topics).toHaveLength(1);
    expect(String(flat(topics[0][1].KmsMasterKeyId))).toMatch(/alias\/aws\/sns$/);
  });
});

describe('ingest functions', () => {
  it('run Node.js 22 from the bundled handlers, configured by environment', () => {
    const functions = ofType('AWS::Lambda::Function').filter(([, p]) => (p.Description as string)?.startsWith('auditlake'));
    expect(functions).toHaveLength(3);
    for (const [, p] of functions) {
      expect(p).toMatchObject({ Runtime: 'nodejs22.x', Handler: 'index.handler', Architectures: ['x86_64'] });
      const env = flat((p.Environment as { Variables: Record<string, unknown> }).Variables) as Record<string, string>;
      expect(env.LAKE_URL).toBe(`s3://<${bucketRef()}>/auditlake`);
      expect(env.ALERTS_TOPIC_ARN).toMatch(/^<Alerts/);
      // V8 sizes its heap from the host, not the function: a quarter of the function's memory.
      expect(env.NODE_OPTIONS).toBe(`--enable-source-maps --max-old-space-size=${Math.floor(Number(p.MemorySize) / 4)}`);
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('kinesis-das'),
      Environment: { Variables: Match.objectLike({ DAS_RESOURCE_ID: 'cluster-ABC123', DAS_EXCLUDE_USERS: 'rdsadmin' }) },
    });
  });

  it('read the DAS stream with partial batch responses, bisection, retries and a failure queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: CONTEXT.dasStreamArn,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      StartingPosition: 'TRIM_HORIZON',
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  });

  it('subscribe to every log group and to object-created events under the logs prefix', () => {
    const filters = ofType('AWS::Logs::SubscriptionFilter').map(([, p]) => p.LogGroupName);
    expect(filters.sort()).toEqual(['/aws/rds/cluster/orders/postgresql', '/aws/rds/instance/billing/postgresql']);
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: 'my-pg-logs',
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          Match.objectLike({ Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'rds/' }] } } }),
        ],
      },
    });
  });
});

describe('IAM', () => {
  it('allows no wildcard action anywhere (only TLS-enforcing denies use them)', () => {
    const statements = allStatements();
    expect(statements.length).toBeGreaterThan(10);
    for (const { where, statement } of statements) {
      if (statement.Effect === 'Deny' && !statement.Condition) {
        // The writers' explicit deny of destroying versions and changing retention (lake-bucket.ts).
        expect(actions(statement), where).toEqual(WRITER_DENIED_ACTIONS);
        continue;
      }
      for (const action of actions(statement)) {
        if (statement.Effect === 'Allow') expect(action, `${where}: ${action}`).not.toContain('*');
        else expect(statement.Condition, `${where}: a deny of ${action}`).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
      }
    }
  });

  it('lets the DAS function decrypt data keys only under its cluster encryption context', () => {
    const decrypts = allStatements().filter(({ statement }) => actions(statement).some((a) => a.startsWith('kms:')));
    expect(decrypts.length).toBe(2);
    for (const { statement } of decrypts) {
      expect(actions(statement)).toEqual(['kms:Decrypt']);
      expect(statement.Resource).toBe(CONTEXT.dasKmsKeyArn);
      expect(statement.Condition).toBeDefined();
    }
    const keys = decrypts.find(({ statement }) => JSON.stringify(statement).includes('aws:rds'))?.statement;
    expect(keys?.Condition).toEqual({ StringEquals: { 'kms:EncryptionContext:aws:rds:dbc-id': 'cluster-ABC123' } });
  });

  it('limits S3 object access to the lake prefix, and the logs bucket to reading its prefix', () => {
    const objectStatements = allStatements().filter(
      ({ statement }) => statement.Effect === 'Allow' && actions(statement).some((a) => /^s3:(Get|Put|Delete)Object$/.test(a)),
    );
    expect(objectStatements.length).toBeGreaterThan(0);
    const lake = `<${bucketRef()}.Arn>/auditlake/`;
    for (const { where, statement } of objectStatements) {
      const resources = [flat(statement.Resource)].flat() as string[];
      if (resources.every((r) => r.startsWith(lake))) continue;
      expect(resources, where).toEqual(['arn:<AWS::Partition>:s3:::my-pg-logs/rds/*']);
      expect(actions(statement)).toEqual(['s3:GetObject']);
    }
    for (const { statement } of allStatements().filter(({ statement }) => actions(statement).includes('s3:ListBucket'))) {
      expect(statement.Condition).toEqual({ StringLike: { 's3:prefix': ['auditlake/*', 'auditlake'] } });
    }
  });
});

describe('least privilege on the lake', () => {
  /** The S3 object statements allowed to the role whose logical id starts with `role`, as action -> resources under the lake. */
  function lakeGrants(role: string): Map<string, string[]> {
    const lake = `<${bucketRef()}.Arn>/auditlake/`;
    const grants = new Map<string, string[]>();
    for (const { where, statement } of allStatements()) {
      if (!where.startsWith(role) || statement.Effect !== 'Allow') continue;
      for (const action of actions(statement).filter((a) => /^s3:.*Object$/.test(a))) {
        const resources = ([flat(statement.Resource)].flat() as string[])
          .filter((r) => r.startsWith(lake))
          .map((r) => r.slice(lake.length));
        grants.set(action, [...(grants.get(action) ?? []), ...resources]);
      }
    }
    return grants;
  }

  it.each([
    ['IngestkinesisdasroleDefaultPolicy', 'das'],
    ['IngestcloudwatchlogsroleDefaultPolicy', 'pgaudit'],
    ['Ingests3objectsroleDefaultPolicy', 'pgaudit'],
    ['ProxyTaskRoleDefaultPolicy', 'proxy'],
  ])('%s reads the lake, replaces only %s files and unit state, and may only add digests', (role, source) => {
    const grants = lakeGrants(role);
    expect(grants.get('s3:GetObject')).toEqual(['*']);
    const deletable = grants.get('s3:DeleteObject') ?? [];
    expect(deletable).toContain(`events/source=${source}/*`);
    for (const other of ['pgaudit', 'das', 'proxy'].filter((s) => s !== source))
      expect(deletable.some((r) => r.includes(`source=${other}`))).toBe(false);
    expect(deletable.some((r) => r === '*' || r.startsWith('_state/digests') || r.startsWith('alerts'))).toBe(false);
    expect(grants.get('s3:PutObject')).toEqual(expect.arrayContaining(['_state/digests/*', 'alerts/*', '_state/pending/*']));
    expect(grants.get('s3:PutObject')).not.toContain('*');
  });
});

describe('catalog', () => {
  it('declares audit_events and audit_alerts exactly as the generated Glue definitions', () => {
    const tables = ofType('AWS::Glue::Table');
    expect(tables).toHaveLength(2);
    for (const name of ['audit_events', 'audit_alerts']) {
      const generated = readFileSync(`schemas/glue/${name}.json`, 'utf8').replaceAll('s3://YOUR-BUCKET', `s3://<${bucketRef()}>`);
      const input = flat(tables.find(([, p]) => (p.TableInput as { Name: string }).Name === name)?.[1].TableInput);
      expect(input).toEqual(JSON.parse(generated));
      expect((input as { Parameters: Record<string, string> }).Parameters['projection.enabled']).toBe('true');
    }
  });

  it('has a workgroup that enforces encrypted results in the lake bucket, and the compliance reports', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        ResultConfiguration: { OutputLocation: Match.anyValue(), EncryptionConfiguration: { EncryptionOption: 'SSE_S3' } },
      }),
    });
    const [, wg] = ofType('AWS::Athena::WorkGroup')[0];
    expect(
      flat((wg.WorkGroupConfiguration as { ResultConfiguration: { OutputLocation: unknown } }).ResultConfiguration.OutputLocation),
    ).toBe(`s3://<${bucketRef()}>/athena-results/`);
    const queries = ofType('AWS::Athena::NamedQuery').map(([, p]) => [p.Name, p.QueryString]);
    // The saved queries are the report definitions in their Athena form, one per report.
    const settings = { ...DEFAULT_REPORT_SETTINGS, privilegedUsers: ['postgres', 'rdsadmin'] };
    expect(queries).toEqual(REPORTS.map((r) => [`auditlake-${r.name}`, r.sql('athena', settings)]));
  });
});

describe('proxy service', () => {
  it('runs on Fargate behind an internal NLB, 5432 to container port 6432, with a stop timeout above its drain time', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internal' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 5432, Protocol: 'TCP' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 6432, Protocol: 'TCP', TargetType: 'ip' });
    template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      LoadBalancers: [Match.objectLike({ ContainerName: 'proxy', ContainerPort: 6432 })],
    });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          PortMappings: [{ ContainerPort: 6432, Protocol: 'tcp' }],
          StopTimeout: 30,
          LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
          Command: [
            'proxy',
            '--listen',
            '0.0.0.0:6432',
            '--upstream',
            CONTEXT.proxyUpstream,
            '--out',
            Match.anyValue(),
            '--upstream-tls',
            'verify-full',
            '--upstream-ca',
            '/app/certs/rds-global-bundle.pem',
          ],
          ReadonlyRootFilesystem: true,
          MountPoints: [{ ContainerPath: '/tmp', SourceVolume: 'tmp', ReadOnly: false }],
        }),
      ],
    });
  });

  it('keeps the client address (preserve_client_ip) and gives the NLB a security group the tasks trust', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetGroupAttributes: Match.arrayWith([{ Key: 'preserve_client_ip.enabled', Value: 'true' }]),
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { SecurityGroups: [Match.anyValue()] });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'auditlake proxy NLB',
      SecurityGroupIngress: [Match.objectLike({ FromPort: 5432, ToPort: 5432, IpProtocol: 'tcp' })],
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 6432,
      ToPort: 6432,
      Description: 'NLB health checks',
      SourceSecurityGroupId: Match.anyValue(),
    });
  });

  it('presents the certificate from Secrets Manager and refuses plaintext clients when a TLS secret is set', () => {
    const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:proxy-tls-AbCdEf';
    const stack = new AuditlakeStack(testApp(), 'AuditlakeTls', {
      ...propsFromContext({ proxyUpstream: CONTEXT.proxyUpstream, proxyTlsSecretArn: secretArn, proxyImageRepository: 'auditlake' }, '/x'),
      env: ENV,
    });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          Command: Match.arrayWith(['--client-tls', 'require']),
          Secrets: [
            { Name: 'AUDITLAKE_TLS_CERT', ValueFrom: `${secretArn}:cert::` },
            { Name: 'AUDITLAKE_TLS_KEY', ValueFrom: `${secretArn}:key::` },
          ],
        }),
      ],
    });
  });
});

describe('deployment settings', () => {
  it('reject bad values with one readable message', () => {
    let message = '';
    try {
      propsFromContext({ dasStreamArn: CONTEXT.dasStreamArn, dasResourceId: 'orders', proxyUpstream: 'db' }, '/x');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^invalid auditlake deployment settings:/);
    expect(message).toMatch(/not the cluster name\)\n {2}→ at dasResourceId/);
    expect(message).toMatch(/expected host:port\n {2}→ at proxyUpstream/);
    expect(message).toMatch(/dasStreamArn, dasResourceId and dasKmsKeyArn go together/);
  });

  it('need the bundled handlers only for the sources they configure', () => {
    const stack = (context: Record<string, string>) =>
      new AuditlakeStack(testApp(), 'Auditlake', { ...propsFromContext(context, '/nonexistent/dist/lambda'), env: ENV });
    expect(() => stack({ logsBucket: 'my-pg-logs' })).toThrow(
      '/nonexistent/dist/lambda/s3-objects/index.mjs is missing: run npm run build:lambda first',
    );
    // The lake, catalog and topic alone need no bundle.
    const lakeOnly = Template.fromStack(stack({}));
    lakeOnly.resourceCountIs('AWS::Lambda::Function', 0);
    lakeOnly.resourceCountIs('AWS::Glue::Table', 2);
  });
});
