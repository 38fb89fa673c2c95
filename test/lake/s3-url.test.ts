import { describe, expect, it } from 'vitest';
import { isS3Url, parseS3Prefix, parseS3Url } from '../../src/lake/s3-url.js';
import { loadLambdaConfig } from '../../src/lambda/config.js';

describe('s3:// URLs', () => {
  it('parses a lake root as a folder', () => {
    expect(parseS3Url('s3://lake')).toEqual({ bucket: 'lake', prefix: '' });
    expect(parseS3Url('s3://lake/a/b')).toEqual({ bucket: 'lake', prefix: 'a/b/' });
    expect(parseS3Url('s3://lake/a/b/')).toEqual({ bucket: 'lake', prefix: 'a/b/' });
  });

  it('keeps an input prefix as written', () => {
    expect(parseS3Prefix('s3://logs-1/pg/postgresql')).toEqual({ bucket: 'logs-1', prefix: 'pg/postgresql' });
    expect(parseS3Prefix('s3://logs-1')).toEqual({ bucket: 'logs-1', prefix: '' });
  });

  it('refuses what is not a bucket name, with the same message everywhere', () => {
    for (const bad of ['s3://', 's3://A-Bucket/x', 's3://ab', 's3://-bucket']) {
      expect(isS3Url(bad)).toBe(true);
      expect(() => parseS3Url(bad)).toThrow(`not an S3 URL: ${bad} (expected s3://bucket/prefix)`);
      expect(() => parseS3Prefix(bad)).toThrow('expected s3://bucket/prefix');
      expect(() => loadLambdaConfig({ LAKE_URL: bad })).toThrow('expected s3://bucket/prefix');
    }
    expect(loadLambdaConfig({ LAKE_URL: 's3://lake/audit' }).lakeUrl).toBe('s3://lake/audit');
  });
});
