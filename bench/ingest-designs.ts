/**
 * Two ways of handing parsed events to DuckDB, on the same collector output: the staged CSV that ingest
 * uses (rows encoded as text, then `read_csv` + `COPY ... TO parquet`), and DuckDB's appender (each value
 * appended through the client into a temporary table, then `COPY` from it). Prints CPU, wall time and
 * peak RSS of each, run in its own process, alternating. Usage:
 *   npx tsx bench/ingest-designs.ts [--mb 50] [--rounds 2]
 * The child mode (`--design csv|appender <file>`) is what each process runs.
 */
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBAppender } from '@duckdb/node-api';
import { collectorForFormat } from '../src/collectors/registry.js';
import { openDuckDb } from '../src/lake/duckdb.js';
import { convertStagedCsv, parquetCopyOptions, sqlString } from '../src/lake/parquet-convert.js';
import { StagedFile } from '../src/lake/staged-file.js';
import { encodeEvents } from '../src/lake/staging-row.js';
import { openFile } from '../src/pipeline/open-input.js';
import { DUCKDB_TYPES, EVENT_FIELDS, nowMicros } from '../src/schema/index.js';
import { ensureCsvlog } from './generate-csvlog.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

/** One design over one log, in this process; prints one JSON line. */
async function child(design: 'csv' | 'appender', path: string): Promise<void> {
  const input = await openFile(path);
  const collector = collectorForFormat('csvlog');
  if (!collector) throw new Error('no csvlog collector');
  const scratch = join(tmpdir(), `auditlake-designs-${process.pid}`);
  const duck = await openDuckDb({ memoryLimit: '256MB', threads: 1, tempDirectory: scratch });
  const out = join(tmpdir(), `auditlake-designs-${process.pid}.parquet`);
  const started = performance.now();
  let events = 0;
  let rows = 0;
  if (design === 'csv') {
    const staged = await StagedFile.create(tmpdir(), '.csv');
    for await (const b of collector.collect(input, 'csvlog', { ingestTime: nowMicros(), batchSize: 2048, options: {} })) {
      for (const p of encodeEvents(b.events).parts) await staged.appendBytes(p.bytes, p.rows);
      events += b.events.length;
    }
    await staged.close();
    rows = await convertStagedCsv(duck, staged.path, out);
    await rm(staged.path, { force: true });
  } else {
    const stagedType = (t: string) =>
      t === 'timestamp' ? 'BIGINT' : t === 'string_list' ? 'VARCHAR' : DUCKDB_TYPES[t as keyof typeof DUCKDB_TYPES];
    await duck.run(`CREATE TEMP TABLE t (${EVENT_FIELDS.map((f) => `"${f.name}" ${stagedType(f.type)}`).join(', ')})`);
    const appender = await duck.createAppender('t', null, 'temp');
    const method: Record<string, string> = {
      string: 'appendVarchar',
      int: 'appendInteger',
      double: 'appendDouble',
      boolean: 'appendBoolean',
    };
    // One generated function per row, as a hand-written appender loop would be.
    const body = EVENT_FIELDS.map((f) => {
      const v = `e[${JSON.stringify(f.name)}]`;
      if (f.type === 'string_list') return `if (${v} == null) a.appendNull(); else a.appendVarchar(JSON.stringify(${v}));`;
      if (f.type === 'bigint' || f.type === 'timestamp') return `if (${v} == null) a.appendNull(); else a.appendBigInt(BigInt(${v}));`;
      return `if (${v} == null) a.appendNull(); else a.${method[f.type]}(${v});`;
    }).join('\n');
    const appendRow = new Function('a', 'e', `${body}\na.endRow();`) as (a: DuckDBAppender, e: object) => void;
    for await (const b of collector.collect(input, 'csvlog', { ingestTime: nowMicros(), batchSize: 2048, options: {} })) {
      for (const e of b.events) appendRow(appender, e);
      events += b.events.length;
    }
    appender.closeSync();
    const select = EVENT_FIELDS.map((f) =>
      f.type === 'timestamp'
        ? `make_timestamp("${f.name}")::TIMESTAMPTZ AS "${f.name}"`
        : f.type === 'string_list'
          ? `from_json("${f.name}", '["VARCHAR"]') AS "${f.name}"`
          : `"${f.name}"`,
    ).join(', ');
    rows = Number((await duck.run(`COPY (SELECT ${select} FROM t) TO ${sqlString(out)} ${parquetCopyOptions()}`)).rowsChanged);
  }
  const cpu = process.cpuUsage();
  await rm(out, { force: true });
  await rm(scratch, { recursive: true, force: true });
  if (rows !== events) throw new Error(`${design}: ${rows} rows written for ${events} events`);
  console.log(JSON.stringify({ design, events, wall: (performance.now() - started) / 1000, cpu: (cpu.user + cpu.system) / 1e6 }));
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--design');
  if (at !== -1) return child(process.argv[at + 1] as 'csv' | 'appender', process.argv[at + 2]);
  const log = await ensureCsvlog(flag('mb', 50));
  const rounds = flag('rounds', 2);
  for (let r = 1; r <= rounds; r++) {
    for (const design of r % 2 === 1 ? ['csv', 'appender'] : ['appender', 'csv']) {
      // GNU time's maximum resident set: the whole process, DuckDB included.
      const run = spawnSync(
        '/usr/bin/time',
        ['-f', '%M', process.execPath, '--import', 'tsx', 'bench/ingest-designs.ts', '--design', design, log.path],
        {
          encoding: 'utf8',
        },
      );
      if (run.status !== 0) throw new Error(`${design}: ${run.stderr}`);
      const result = JSON.parse(run.stdout.trim().split('\n').at(-1) as string);
      const peakMb = Number(run.stderr.trim().split('\n').at(-1)) / 1024;
      console.log(
        `round ${r} ${design.padEnd(8)} ${result.events} events: ${result.wall.toFixed(1)} s wall, ${result.cpu.toFixed(1)} s CPU, peak RSS ${peakMb.toFixed(0)} MB`,
      );
    }
  }
}

await main();
