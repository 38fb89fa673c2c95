import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryLake } from '../../src/cli/commands/query.js';
import { projectionCheck } from '../../src/cli/projection-check.js';
import { FsStorage } from '../../src/lake/fs-storage.js';
import { DEFAULT_LAKE_WRITER, LakeWriter } from '../../src/lake/lake-writer.js';
import { type IngestOptions, ingestFiles } from '../../src/pipeline/ingest.js';
import { ParsePool } from '../../src/pipeline/parse-pool.js';
import { type BatchTransform, policiesStage } from '../../src/pipeline/policies-stage.js';
import type { RunSummary } from '../../src/pipeline/stats.js';
import type { Policy } from '../../src/policies/index.js';
import { createSqlRedactor } from '../../src/redact/index.js';
import { EVENT_FIELDS } from '../../src/schema/index.js';
import { tempLake } from '../support/lake.js';

/**
 * Ingest with csvlog parsed on worker threads must write exactly the lake that parsing on the main
 * thread writes (every column but ingest_time, the quarantine, the run's counts), with redaction (the
 * built-in PASSWORD rule and configured patterns) and the policies run in the workers before they encode:
 * no secret may reach an encoded row. Pieces of 2 KiB cut each fixture into many.
 */

const SECRETS = ['S3cretPw', 'K3yPw', 'G4rbagePw'];

const POLICIES: Policy[] = [
  { id: 'account-reads', table: 'public.accounts', operations: ['SELECT'], outcome: 'any', file: 'test.yaml' },
  { id: 'account-writes', table: 'public.accounts', operations: ['INSERT', 'UPDATE', 'DELETE'], outcome: 'any', file: 'test.yaml' },
];

const REDACT = { functions: [{ name: 'pgp_sym_encrypt', arguments: [2] }], settings: [] };

let work: Awaited<ReturnType<typeof tempLake>>;
let inputs: string[];
const pool = new ParsePool(2);

beforeAll(async () => {
  work = await tempLake();
  // The fixture's server already redacted its passwords; here they are in clear, as pgAudit logs them.
  const pg15 = await readFile('fixtures/pgaudit/pg15.csv', 'utf8');
  const lines = pg15.replaceAll('PASSWORD <REDACTED>', "PASSWORD 'S3cretPw'").split('\n');
  const at = lines.findIndex((l) => l.includes('SELECT name, city FROM accounts ORDER BY id;'));
  lines[at] = lines[at].replace('SELECT name, city FROM accounts ORDER BY id;', "SELECT pgp_sym_encrypt('x', 'K3yPw') FROM accounts;");
  lines.splice(at + 1, 0, "garbage line: CREATE ROLE z PASSWORD 'G4rbagePw'");
  const secrets = join(work.dir, 'secrets.csv');
  await writeFile(secrets, lines.join('\n'));
  inputs = [secrets, 'fixtures/pgaudit/pg15.csv', 'fixtures/pgaudit/pg13.csv', 'fixtures/pgaudit/pg15-rds.log'];
});

afterAll(async () => {
  await pool.close();
  await work.cleanup();
});

async function ingest(dir: string, options: Partial<IngestOptions>): Promise<RunSummary> {
  const lake = await LakeWriter.open(new FsStorage(dir), { ...DEFAULT_LAKE_WRITER, rollBytes: 16 * 1024 });
  try {
    return await ingestFiles(inputs, lake, {
      format: 'auto',
      batchSize: 50,
      collectorOptions: {},
      observers: [],
      redactor: createSqlRedactor(REDACT),
      pieceBytes: 2 * 1024,
      ...options,
    });
  } finally {
    await lake.close();
  }
}

const columns = EVENT_FIELDS.filter((f) => f.name !== 'ingest_time')
  .map((f) => `CAST(to_json("${f.name}") AS VARCHAR)`)
  .join(' || chr(31) || ');

/** What a lake holds, but the time it was written: event rows, quarantine lines by file, files. */
async function contents(dir: string) {
  const rows = (await queryLake(dir, `SELECT ${columns} AS r FROM audit_events ORDER BY 1`)).rows.map((r) => (r as { r: string }).r);
  const storage = new FsStorage(dir);
  const quarantine: Record<string, unknown[]> = {};
  for (const key of await storage.list('_quarantine/')) {
    const text = (await storage.get(key))?.toString('utf8') ?? '';
    quarantine[key] = text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const { ingest_time: _, ...line } = JSON.parse(l);
        return line;
      });
  }
  return { rows, quarantine };
}

/**
 * A run's summary without its timings, nor how many Parquet files it wrote: a piece ends its last batch
 * early, so batches (and with them the points where a partition's file rolls) fall elsewhere than on the
 * writing thread, while the rows stored are the same (`contents`).
 */
function counts(summary: RunSummary) {
  const { duration_ms: _, files_written: __, ...rest } = summary;
  return { ...rest, inputs: rest.inputs.map(({ files: ___, ...input }) => input) };
}

async function expectNoSecrets(dir: string) {
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || e.name === 'secrets.csv') continue;
    const bytes = await readFile(join(e.parentPath, e.name));
    for (const s of SECRETS) expect(bytes.includes(s), `${e.name} holds ${s}`).toBe(false);
  }
}

describe('ingest with csvlog parsed on worker threads', () => {
  it('writes the lake of main-thread parsing, with passwords and configured secrets redacted in the workers', async () => {
    const seq = await tempLake();
    const par = await tempLake();
    try {
      const seqProjection = projectionCheck('2030-01-01');
      const a = await ingest(seq.dir, { workers: 0, observers: [seqProjection.observe] });
      const before = pool.parsed;
      const parProjection = projectionCheck('2030-01-01');
      const b = await ingest(par.dir, { pool, observers: [parProjection.observe] });
      expect(pool.parsed - before).toBeGreaterThan(20);
      expect(counts(b)).toEqual(counts(a));
      expect(a.quarantined).toBeGreaterThan(0);
      // The projection check counts the same from the encoded form as from events (all dated before 2030).
      expect(parProjection.result()).toEqual(seqProjection.result());
      expect(parProjection.result()?.before_start).toBeGreaterThanOrEqual(a.events);
      const fromSeq = await contents(seq.dir);
      expect(fromSeq.rows.length).toBe(a.events);
      expect(await contents(par.dir)).toEqual(fromSeq);
      const statements = (
        await queryLake(
          par.dir,
          `SELECT statement_text AS s FROM audit_events WHERE source_ref LIKE '%secrets.csv%' AND (statement_text LIKE '%PASSWORD%' OR statement_text LIKE '%pgp_sym%')`,
        )
      ).rows.map((r) => (r as { s: string }).s);
      expect(statements).toContain('CREATE ROLE app_user LOGIN PASSWORD <REDACTED>');
      expect(statements.some((s) => s.includes('pgp_sym_encrypt') && s.includes('<REDACTED>'))).toBe(true);
      await expectNoSecrets(par.dir);
      await expectNoSecrets(seq.dir);
    } finally {
      await seq.cleanup();
      await par.cleanup();
    }
  });

  it('runs the policies in the workers, and gives observers that need events the redacted, selected events', async () => {
    const seq = await tempLake();
    const par = await tempLake();
    try {
      const observing = () => {
        const seen: string[] = [];
        const observe = (batch: { events: { statement_text: string | null; policy_ids: string[] }[] }) => {
          for (const e of batch.events) seen.push(`${e.policy_ids.join('+')} ${e.statement_text}`);
          return 0;
        };
        return { seen, observe };
      };
      const transforms = () => [policiesStage(POLICIES, undefined, 'only')];
      const sa = observing();
      const a = await ingest(seq.dir, { workers: 0, transforms: transforms(), observers: [sa.observe] });
      const sb = observing();
      const before = pool.parsed;
      const b = await ingest(par.dir, { pool, transforms: transforms(), observers: [sb.observe] });
      expect(pool.parsed - before).toBeGreaterThan(20);
      expect(counts(b)).toEqual(counts(a));
      expect(a.skipped['not selected by any policy (--policy-mode only)']).toBeGreaterThan(0);
      expect(sb.seen).toEqual(sa.seen);
      expect(sb.seen.some((s) => s.startsWith('account-reads '))).toBe(true);
      for (const s of SECRETS) expect(sb.seen.join('\n')).not.toContain(s);
      expect(await contents(par.dir)).toEqual(await contents(seq.dir));
      await expectNoSecrets(par.dir);
    } finally {
      await seq.cleanup();
      await par.cleanup();
    }
  });

  it('parses on the main thread when a transform cannot move to a worker', async () => {
    const seq = await tempLake();
    const par = await tempLake();
    try {
      // A closure: it has no spec for a worker to rebuild it from.
      const closure = (): BatchTransform => (batch) => {
        for (const e of batch.events) e.policy_ids = e.db_user === 'postgres' ? ['by-postgres'] : [];
      };
      const a = await ingest(seq.dir, { workers: 0, transforms: [closure()] });
      const before = pool.parsed;
      const b = await ingest(par.dir, { pool, transforms: [closure()] });
      expect(pool.parsed).toBe(before);
      expect(counts(b)).toEqual(counts(a));
      expect(await contents(par.dir)).toEqual(await contents(seq.dir));
      await expectNoSecrets(par.dir);
    } finally {
      await seq.cleanup();
      await par.cleanup();
    }
  });
});
