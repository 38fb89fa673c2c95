import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll } from 'vitest';
import { AuditlakeStack } from '../lib/auditlake-stack.js';
import { propsFromContext } from '../lib/context.js';

/** Temporary folders made for the test file that imports this module, removed after it. */
const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A CDK app whose synthesized output (otherwise a cdk.out folder left in the temp dir) is removed at exit. */
export function testApp(): App {
  return new App({ outdir: scratchDir('auditlake-cdk-') });
}

/** Handler folders with a stub bundle, so synthesis does not need `npm run build:lambda` (or hash 75 MB thrice). */
export function stubCodeRoot(): string {
  const root = scratchDir('auditlake-lambda-code-');
  for (const handler of ['kinesis-das', 'cloudwatch-logs', 's3-objects']) {
    mkdirSync(join(root, handler));
    writeFileSync(join(root, handler, 'index.mjs'), 'export const handler = async () => ({});\n');
  }
  return root;
}

export const ENV = { account: '123456789012', region: 'eu-west-1' };

export const CONTEXT = {
  lakeBucketName: 'my-audit-lake',
  dasStreamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/aws-rds-das-cluster-ABC123',
  dasResourceId: 'cluster-ABC123',
  dasKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555',
  dasExcludeUsers: 'rdsadmin',
  logGroups: '/aws/rds/cluster/orders/postgresql,/aws/rds/instance/billing/postgresql',
  logsBucket: 'my-pg-logs',
  logsPrefix: 'rds/',
  proxyUpstream: 'orders.cluster-xyz.eu-west-1.rds.amazonaws.com:5432',
};

/** Synthesizes the stack with every source configured; returns its template. */
export function synthesize(context: Record<string, string> = CONTEXT): { stack: AuditlakeStack; template: Template } {
  const app = testApp();
  const stack = new AuditlakeStack(app, 'Auditlake', {
    ...propsFromContext(context, stubCodeRoot()),
    env: ENV,
  });
  return { stack, template: Template.fromStack(stack) };
}
