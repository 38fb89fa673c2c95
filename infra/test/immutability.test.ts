import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { propsFromContext } from '../lib/context.js';
import { RETAINED_FOLDERS, WRITER_DENIED_ACTIONS } from '../lib/lake-bucket.js';
import { CONTEXT, synthesize } from './synth.js';

/** Object Lock, retention and the digest-signing key in the synthesized stack. */

type Statement = { Effect: string; Action: string | string[]; Resource?: unknown };
type Resource = { Type: string; Properties: Record<string, unknown> };

// A prebuilt proxy image: synthesis then hashes no Docker build context.
const LOCKED = {
  ...CONTEXT,
  proxyImageRepository: 'auditlake',
  objectLockMode: 'compliance',
  objectLockDays: '365',
  retentionDays: '400',
  signDigests: 'true',
};

function resourcesOf(template: Template, type: string): [string, Record<string, unknown>][] {
  const all = template.toJSON().Resources as Record<string, Resource>;
  return Object.entries(all)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties]);
}

/** Statements of the IAM policy attached to roles whose logical id contains `role`. */
function policyOf(template: Template, role: string): Statement[] {
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Roles).includes(role))
    .flatMap(([, p]) => (p.PolicyDocument as { Statement: Statement[] }).Statement);
}

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('immutability options', () => {
  let locked: Template;
  beforeAll(() => {
    locked = synthesize(LOCKED).template;
  }, 120_000);

  it('are off by default: no Object Lock, no retention expiry, no signing key', () => {
    const { template } = synthesize({ logGroups: CONTEXT.logGroups });
    const [[, bucket]] = resourcesOf(template, 'AWS::S3::Bucket');
    expect(bucket.ObjectLockEnabled).toBeUndefined();
    expect(bucket.ObjectLockConfiguration).toBeUndefined();
    expect(JSON.stringify(bucket.LifecycleConfiguration)).not.toContain('retention-');
    template.resourceCountIs('AWS::KMS::Key', 0);
  });

  it('lock every object version in compliance mode and expire event, alert and quarantine files', () => {
    const template = locked;
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } } },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    const [[, bucket]] = resourcesOf(template, 'AWS::S3::Bucket');
    const rules = (bucket.LifecycleConfiguration as { Rules: { Prefix?: string; ExpirationInDays?: number }[] }).Rules;
    for (const folder of RETAINED_FOLDERS)
      expect(rules).toContainEqual(expect.objectContaining({ Prefix: `auditlake/${folder}`, ExpirationInDays: 400 }));
    const governance = synthesize({ objectLockMode: 'governance', objectLockDays: '90', retentionDays: '90' });
    governance.template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 90 } } },
    });
  });

  it('let every writer role write and sign but never destroy a version, change retention or bypass governance', () => {
    const template = locked;
    template.hasResourceProperties('AWS::KMS::Key', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const roles = resourcesOf(template, 'AWS::IAM::Role')
      .map(([id]) => id)
      .filter((id) => /kinesisdasrole|cloudwatchlogsrole|s3objectsrole|TaskRole/.test(id));
    expect(roles).toHaveLength(4);
    for (const role of roles) {
      const statements = policyOf(template, role);
      const allowed = statements.filter((s) => s.Effect === 'Allow').flatMap(actions);
      expect(allowed, role).toEqual(expect.arrayContaining(['s3:PutObject', 'kms:Sign', 'kms:GetPublicKey']));
      for (const a of WRITER_DENIED_ACTIONS) expect(allowed, role).not.toContain(a);
      const denied = statements.filter((s) => s.Effect === 'Deny').flatMap(actions);
      expect(denied, role).toEqual(WRITER_DENIED_ACTIONS);
    }
    const ingest = resourcesOf(template, 'AWS::Lambda::Function')
      .map(([, fn]) => (fn.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables)
      .filter((env) => env?.LAKE_URL);
    expect(ingest).toHaveLength(3);
    for (const env of ingest) expect(JSON.stringify(env?.SIGN_KMS_KEY_ID)).toContain('DigestSigningKey');
    const [[, task]] = resourcesOf(template, 'AWS::ECS::TaskDefinition');
    const command = (task.ContainerDefinitions as { Command: unknown[] }[])[0].Command;
    expect(command).toContain('--sign-kms-key');
  });

  it('reject inconsistent settings with a readable message', () => {
    expect(() => propsFromContext({ objectLockMode: 'compliance' }, '/x')).toThrow(/objectLockMode and objectLockDays go together/);
    expect(() => propsFromContext({ objectLockMode: 'strict', objectLockDays: '5' }, '/x')).toThrow(/expected compliance or governance/);
    expect(() => propsFromContext({ objectLockMode: 'compliance', objectLockDays: '365', retentionDays: '90' }, '/x')).toThrow(
      /retentionDays must be at least objectLockDays/,
    );
  });
});
