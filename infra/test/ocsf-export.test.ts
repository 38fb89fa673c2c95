import { describe, expect, it } from 'vitest';
import { CONTEXT, synthesize } from './synth.js';

/** The scheduled OCSF export and the optional Security Lake custom sources: off unless asked for. */

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

function resourcesOf(context: Record<string, string>): Resources {
  return synthesize(context).template.toJSON().Resources as Resources;
}
const ofType = (resources: Resources, type: string) => Object.values(resources).filter((r) => r.Type === type);

// A prebuilt image, so synthesis does not hash the repository for a Docker asset.
const BASE = { ...CONTEXT, proxyUpstream: '', proxyImageRepository: 'auditlake', proxyImageTag: '1.0.0' };
delete (BASE as Record<string, string>).proxyUpstream;

// Each case synthesizes the whole stack (tens of seconds on a loaded machine).
describe('OCSF export', { timeout: 240_000 }, () => {
  it('is off by default', () => {
    const resources = resourcesOf(BASE);
    expect(ofType(resources, 'AWS::Events::Rule')).toHaveLength(0);
    expect(ofType(resources, 'Custom::AWS')).toHaveLength(0);
  });

  it('runs auditlake export ocsf for yesterday on a schedule, writing only under the output prefix', () => {
    const resources = resourcesOf({
      ...BASE,
      ocsfExportOut: 's3://aws-security-data-lake-eu-west-1-abc/ocsf',
      ocsfExportSchedule: 'cron(0 2 * * ? *)',
    });
    const [rule] = ofType(resources, 'AWS::Events::Rule');
    expect(rule.Properties.ScheduleExpression).toBe('cron(0 2 * * ? *)');
    const tasks = ofType(resources, 'AWS::ECS::TaskDefinition');
    const command = tasks
      .flatMap((t) => (t.Properties.ContainerDefinitions as { Command?: string[] }[]).map((c) => c.Command))
      .find((c) => c?.[0] === 'export')!;
    expect(command.slice(0, 2)).toEqual(['export', 'ocsf']);
    expect(command.join(' ')).toContain(
      '--out s3://aws-security-data-lake-eu-west-1-abc/ocsf --region eu-west-1 --account-id 123456789012 --since yesterday --until yesterday',
    );
    const json = JSON.stringify(ofType(resources, 'AWS::IAM::Policy'));
    expect(json).toContain('aws-security-data-lake-eu-west-1-abc/ocsf/*');
    expect(ofType(resources, 'Custom::AWS')).toHaveLength(0);
    // Without the proxy's VPC the task runs in public subnets: no NAT gateway.
    expect(ofType(resources, 'AWS::EC2::NatGateway')).toHaveLength(0);
  });

  it('registers one Security Lake custom source per class when asked', () => {
    const resources = resourcesOf({
      ...BASE,
      ocsfExportOut: 's3://aws-security-data-lake-eu-west-1-abc',
      securityLakeCustomSources: 'true',
      securityLakeExternalId: 'auditlake-ext',
    });
    const creates = ofType(resources, 'Custom::AWS').map((r) => r.Properties.Create);
    // Create is JSON text joined with the crawler role's ARN: compare it without the escaping.
    const text = JSON.stringify(creates).replaceAll('\\', '');
    expect(creates).toHaveLength(2);
    expect(text).toContain('"sourceName":"auditlake-auth"');
    expect(text).toContain('"eventClasses":["AUTHENTICATION"]');
    expect(text).toContain('"sourceName":"auditlake-datastore"');
    expect(text).toContain('"eventClasses":["DATASTORE_ACTIVITY"]');
    expect(text).toContain('"externalId":"auditlake-ext"');
  });

  it('needs an output and an external id to register custom sources', () => {
    expect(() => resourcesOf({ ...BASE, securityLakeCustomSources: 'true' })).toThrow(/needs ocsfExportOut and securityLakeExternalId/);
  });
});
