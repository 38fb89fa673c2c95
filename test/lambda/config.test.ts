import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundledRulesDir, type LambdaConfig, loadLambdaConfig } from '../../src/lambda/config.js';
import { type Runtime, sharedRuntime } from '../../src/lambda/runtime.js';

describe('Lambda configuration from environment variables', () => {
  it('reads every variable, with the bundled rules by default', () => {
    const config = loadLambdaConfig({
      LAKE_URL: 's3://audit-lake/auditlake',
      DAS_RESOURCE_ID: 'cluster-ABC123',
      DAS_EXCLUDE_USERS: 'rdsadmin, rdssec,,',
      ALERTS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:auditlake-alerts',
      SSE_KMS_KEY_ID: 'alias/lake',
      SIGN_KMS_KEY_ID: 'alias/lake-digests',
      PATH: '/usr/bin',
    });
    expect(config).toEqual({
      lakeUrl: 's3://audit-lake/auditlake',
      dasResourceId: 'cluster-ABC123',
      dasExcludeUsers: ['rdsadmin', 'rdssec'],
      rulesDir: bundledRulesDir(),
      alertsTopicArn: 'arn:aws:sns:eu-west-1:123456789012:auditlake-alerts',
      sseKmsKeyId: 'alias/lake',
      signKmsKeyId: 'alias/lake-digests',
    });
    expect(existsSync(join(config.rulesDir, 'auth-brute-force.yaml'))).toBe(true);
  });

  it('treats empty variables as unset', () => {
    expect(loadLambdaConfig({ LAKE_URL: 's3://lake', DAS_RESOURCE_ID: '', RULES_DIR: '/opt/rules' })).toMatchObject({
      dasResourceId: undefined,
      dasExcludeUsers: [],
      rulesDir: '/opt/rules',
    });
  });

  it('fails with one message naming every bad variable', () => {
    expect(() => loadLambdaConfig({})).toThrow(/LAKE_URL is required/);
    let message = '';
    try {
      loadLambdaConfig({ LAKE_URL: '/tmp/lake', DAS_RESOURCE_ID: 'my-cluster', ALERTS_TOPIC_ARN: 'topic' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^invalid auditlake Lambda configuration:/);
    expect(message).toMatch(/expected s3:\/\/bucket\/prefix[\s\S]*at LAKE_URL/);
    expect(message).toMatch(/not the cluster name[\s\S]*at DAS_RESOURCE_ID/);
    expect(message).toMatch(/expected an SNS topic ARN[\s\S]*at ALERTS_TOPIC_ARN/);
  });
});

describe('sharedRuntime', () => {
  /** Builds a stand-in runtime that only records its configuration (no S3, no DuckDB). */
  function builder(fail = 0) {
    const built: LambdaConfig[] = [];
    return {
      built,
      async create(config: LambdaConfig): Promise<Runtime> {
        if (fail-- > 0) throw new Error('S3 unreachable');
        built.push(config);
        return { config } as Runtime;
      },
    };
  }

  it('builds once per configuration, never handing out a runtime built for other settings', async () => {
    const b = builder();
    const a1 = sharedRuntime(loadLambdaConfig({ LAKE_URL: 's3://lake/shared-a' }), b.create);
    const a2 = sharedRuntime(loadLambdaConfig({ LAKE_URL: 's3://lake/shared-a' }), b.create);
    const other = sharedRuntime(loadLambdaConfig({ LAKE_URL: 's3://lake/shared-b' }), b.create);
    expect(await a1()).toBe(await a2());
    expect((await other()).config.lakeUrl).toBe('s3://lake/shared-b');
    expect((await a1()).config.lakeUrl).toBe('s3://lake/shared-a');
    expect(b.built.map((c) => c.lakeUrl)).toEqual(['s3://lake/shared-a', 's3://lake/shared-b']);
  });

  it('retries a failed build on the next call', async () => {
    const b = builder(1);
    const runtime = sharedRuntime(loadLambdaConfig({ LAKE_URL: 's3://lake/shared-retry' }), b.create);
    await expect(runtime()).rejects.toThrow('S3 unreachable');
    expect((await runtime()).config.lakeUrl).toBe('s3://lake/shared-retry');
  });
});
