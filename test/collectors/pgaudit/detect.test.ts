import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectPgauditFormat, pgauditCollector } from '../../../src/collectors/pgaudit/collector.js';
import { detectFormat } from '../../../src/collectors/registry.js';
import { HEAD_BYTES, openFile } from '../../../src/pipeline/open-input.js';
import { eventToJson } from '../../../src/schema/index.js';
import { collectBytes, FIXTURE, fixtureLines } from './collect-bytes.js';

/** Format detection sees what the pipeline gives it: the decompressed first 64 KiB of an input. */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auditlake-detect-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Writes `bytes` to a temporary file and returns the format detected from its opened head. */
async function detectFile(name: string, bytes: Buffer | string): Promise<{ format: string | null; gzip: boolean }> {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const input = await openFile(path);
  return { format: detectPgauditFormat(input.head), gzip: input.gzip };
}

describe('pgaudit format detection', () => {
  it.each([
    [FIXTURE.csvlog, 'csvlog'],
    [FIXTURE.csvlog13, 'csvlog'],
    [FIXTURE.jsonlog, 'jsonlog'],
    [FIXTURE.stderr, 'stderr'],
    [FIXTURE.cloudwatch, 'cloudwatch'],
    [FIXTURE.cloudwatchRaw, 'cloudwatch'],
    [FIXTURE.controlMessage, 'cloudwatch'],
  ])('detects %s as %s, through the registry too', async (path, format) => {
    const input = await openFile(path);
    expect(input.gzip).toBe(path.endsWith('.gz'));
    expect(detectPgauditFormat(input.head)).toBe(format);
    const picked = detectFormat(input.head);
    expect(picked?.collector).toBe(pgauditCollector);
    expect(picked?.format).toBe(format);
  });

  it.each([
    [FIXTURE.csvlog, 'csvlog'],
    [FIXTURE.jsonlog, 'jsonlog'],
    [FIXTURE.stderr, 'stderr'],
    [FIXTURE.cloudwatch, 'cloudwatch'],
  ])('detects %s gzipped as %s', async (path, format) => {
    const name = `${path.split('/').pop()}.gz`;
    expect(await detectFile(name, gzipSync(readFileSync(path)))).toEqual({ format, gzip: true });
    // The name does not matter: gzip is recognized by its magic bytes.
    expect(await detectFile(`${name}.log`, gzipSync(readFileSync(path)))).toEqual({ format, gzip: true });
  });

  it('detects a log whose first record is larger than the head', async () => {
    const big = 'x'.repeat(HEAD_BYTES * 2);
    const csv = `2026-11-22 00:55:46.694 UTC,"u","d",1,"10.0.0.1:5000",6b023d92.1,1,"SELECT",2026-11-22 00:55:46 UTC,3/2,0,LOG,00000,"AUDIT: SESSION,1,1,READ,SELECT,,,select '${big}',<none>,1",,,,,,,,,"psql","client backend",,0\n`;
    const stderr = `2026-11-22 00:55:46 UTC:10.0.0.1(5000):u@d:[1]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,select '${big}',<none>,1\n`;
    const json = `${JSON.stringify({ timestamp: '2026-11-22 00:55:46.694 UTC', user: 'u', pid: 1, error_severity: 'LOG', message: `AUDIT: ${big}` })}\n`;
    expect((await detectFile('big.csv', csv)).format).toBe('csvlog');
    expect((await detectFile('big.log', stderr)).format).toBe('stderr');
    expect((await detectFile('big.json', json)).format).toBe('jsonlog');
  });

  it('detects a log after leading blank lines', () => {
    for (const [path, format] of [
      [FIXTURE.csvlog, 'csvlog'],
      [FIXTURE.jsonlog, 'jsonlog'],
      [FIXTURE.stderr, 'stderr'],
    ]) {
      expect(detectPgauditFormat(`\n\r\n  \n${fixtureLines(path).slice(0, 3).join('\n')}`)).toBe(format);
    }
  });

  it.each([
    ['an empty file', ''],
    ['blank lines', '\n\n   \n'],
    ['prose', 'The quick brown fox jumps over the lazy dog.\nIt was 2026-11-22 00:55:46 UTC, and raining.\n'],
    ['a syslog line', 'Nov 22 00:55:46 db1 postgres[8876]: [1-1] LOG:  database system is ready to accept connections\n'],
    ['the default stderr prefix %m [%p]', '2026-11-22 00:55:46.597 UTC [8876] LOG:  database system is ready to accept connections\n'],
    ['an nginx access line', '10.0.1.25 - - [22/Nov/2026:00:55:46 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0"\n'],
    ['a CSV with a header row', 'log_time,user_name,database_name\n2026-11-22 00:55:46.591 UTC,postgres,postgres\n'],
    ['a JSON object that is no log record', '{"level":30,"time":1795308946000,"msg":"listening"}\n'],
    ['a JSON array', '[{"error_severity":"LOG"}]\n'],
    ['a JSON object naming logEvents without a messageType', '{"logEvents":[]}\n'],
    ['an Aurora DAS record', readFileSync('fixtures/das/aurora-pg.jsonl', 'utf8').split('\n')[0]],
    ['binary bytes', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]).toString('latin1')],
  ])('recognizes nothing in %s', (_, head) => {
    expect(detectPgauditFormat(head)).toBeNull();
    expect(detectFormat(head)?.collector === pgauditCollector).toBe(false);
  });

  it('does not take the events it writes (their JSON form) for jsonlog', async () => {
    const { events } = await collectBytes('pg15.csv', readFileSync(FIXTURE.csvlog), 'csvlog');
    const jsonl = events.map((e) => JSON.stringify(eventToJson(e))).join('\n');
    expect(detectPgauditFormat(jsonl)).toBeNull();
  });
});
