import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { type Batch, EVENT_FIELDS, type FieldSpec, nowMicros, type Rejected, type Source, utcDate } from '../schema/index.js';
import { removeInputFromCompacted } from './compacted-files.js';
import { recoverCompactions } from './compaction-journal.js';
import { openDuckDb } from './duckdb.js';
import type { UnitKind } from './integrity/digest-record.js';
import type { Signer } from './integrity/signers.js';
import { UnitRecorder } from './integrity/unit-recorder.js';
import { eventsPartKey, manifestKey, quarantineKey } from './layout.js';
import { convertStagedCsv, DEFAULT_PARQUET, type ParquetOptions } from './parquet-convert.js';
import { StagedFile } from './staged-file.js';
import { ENCODE_CHARS, encodeEvents } from './staging-row.js';
import type { Storage } from './storage.js';

/** How files are sized and encoded. */
export interface LakeWriterOptions {
  /** A partition's Parquet file is rolled when its staged rows reach this many bytes (after the batch that crosses it). */
  rollBytes: number;
  parquet: ParquetOptions;
  /** Signs each unit's digest; null or absent: digests are chained but unsigned. */
  signer?: Signer | null;
}

/**
 * 128 MiB of staged rows make a Parquet file of roughly 15-30 MB: small enough that DuckDB converts one
 * while the next is parsed (and within its memory limit), large enough per input; `auditlake compact`
 * merges files toward Athena's preferred sizes.
 */
export const DEFAULT_LAKE_WRITER: LakeWriterOptions = { rollBytes: 128 * 1024 * 1024, parquet: DEFAULT_PARQUET };

/** One Parquet file written. */
export interface WrittenFile {
  key: string;
  rows: number;
}

/** What writing one input produced; also stored as the input's manifest. */
export interface InputManifest {
  input: string;
  source: Source | 'unknown';
  input_key: string;
  ingest_time: string;
  events: number;
  quarantined: number;
  files: WrittenFile[];
  quarantine_file: string | null;
}

interface Partition {
  date: string;
  staged: StagedFile;
  part: number;
}

/**
 * Writes the events of the inputs of one run into the lake. Per input and partition, rows are staged
 * in a local file; when it reaches `rollBytes`, or the input ends, DuckDB converts it to Parquet and
 * the file is stored atomically. One conversion runs at a time, off the JavaScript thread, while the
 * next rows are parsed: a bounded pipeline of depth one.
 */
export class LakeWriter {
  private constructor(
    /** The lake's storage, recording what each unit writes for its digest (`integrity/`). */
    readonly storage: UnitRecorder,
    readonly options: LakeWriterOptions,
    private readonly duck: DuckDBConnection,
    private readonly stagingDir: string,
  ) {}

  /** Opens a writer over a storage, after finishing or undoing any compaction a killed process left behind. */
  static async open(storage: Storage, options: LakeWriterOptions = DEFAULT_LAKE_WRITER, duck?: DuckDBConnection): Promise<LakeWriter> {
    await recoverCompactions(storage, options.signer ?? null);
    const stagingDir = await storage.stagingDir();
    // One DuckDB thread: conversions run while the next rows are parsed, and parsing is the slower
    // side, so a second thread measured no faster on a 200 MB log and cost about 50 MB more memory.
    return new LakeWriter(
      new UnitRecorder(storage, options.signer ?? null),
      options,
      duck ?? (await openDuckDb({ memoryLimit: '256MB', threads: 1, tempDirectory: stagingDir })),
      stagingDir,
    );
  }

  /** Starts writing the events of one input (or stream unit), identified by its key. */
  input(source: Source | 'unknown', inputKey: string, inputName: string, kind: UnitKind = 'ingest'): InputWriter {
    return new InputWriter(this, source, inputKey, inputName, kind);
  }

  /** Converts a staged file to Parquet and stores it; checks the row count DuckDB reports. */
  async storeStaged(staged: StagedFile, key: string, fields: readonly FieldSpec[] = EVENT_FIELDS): Promise<WrittenFile> {
    const parquet = join(this.stagingDir, `${key.replaceAll('/', '_')}.parquet`);
    try {
      const rows = await convertStagedCsv(this.duck, staged.path, parquet, this.options.parquet, fields);
      if (rows !== staged.rows) throw new Error(`Parquet conversion of ${key} wrote ${rows} rows, ${staged.rows} were staged`);
      await this.storage.putFile(key, parquet);
      return { key, rows };
    } finally {
      await rm(staged.path, { force: true });
      await rm(parquet, { force: true });
    }
  }

  /** Staging directory (for the quarantine's staged JSONL). */
  get staging(): string {
    return this.stagingDir;
  }

  /** The DuckDB connection, for queries after writing. */
  get connection(): DuckDBConnection {
    return this.duck;
  }
}

/** Writes one input's events and rejected records. Call `finish` to make them durable. */
export class InputWriter {
  private partitions = new Map<string, Partition>();
  private conversion: Promise<unknown> = Promise.resolve();
  private files: WrittenFile[] = [];
  private quarantine: StagedFile | null = null;
  private quarantined = 0;
  private events = 0;
  private firstDate: string | null = null;
  private readonly ingestTime = nowMicros();

  constructor(
    private readonly lake: LakeWriter,
    private readonly source: Source | 'unknown',
    private readonly inputKey: string,
    private readonly inputName: string,
    private readonly kind: UnitKind,
  ) {}

  /** Stages a batch's events (encoded here unless a worker encoded them) and rejected records. */
  async write(batch: Batch): Promise<void> {
    const encoded = batch.encoded ?? encodeEvents(batch.events, Math.min(ENCODE_CHARS, this.lake.options.rollBytes));
    for (const r of encoded.oversized) await this.reject(r);
    for (const part of encoded.parts) {
      const partition = this.partitions.get(part.date) ?? (await this.openPartition(part.date, 0));
      await partition.staged.appendBytes(part.bytes, part.rows);
      this.events += part.rows;
      if (partition.staged.size >= this.lake.options.rollBytes) await this.roll(partition);
    }
    for (const r of batch.rejected) await this.reject(r);
  }

  private async openPartition(date: string, part: number): Promise<Partition> {
    this.firstDate ??= date;
    const partition = { date, part, staged: await StagedFile.create(this.lake.staging, '.csv') };
    this.partitions.set(date, partition);
    return partition;
  }

  /** Hands a full staged file to conversion (after the previous one finishes) and starts the next. */
  private async roll(partition: Partition): Promise<void> {
    await partition.staged.close();
    await this.conversion;
    const key = eventsPartKey(this.source, partition.date, this.inputKey, partition.part);
    const staged = partition.staged;
    this.conversion = this.lake.storeStaged(staged, key).then((f) => this.files.push(f));
    // Surface a failed conversion at the next await rather than as an unhandled rejection.
    this.conversion.catch(() => {});
    await this.openPartition(partition.date, partition.part + 1);
  }

  private async reject(r: Rejected): Promise<void> {
    this.quarantine ??= await StagedFile.create(this.lake.staging, '.jsonl');
    const line = JSON.stringify({
      source_ref: r.source_ref,
      reason: r.reason,
      raw: r.raw,
      input: this.inputName,
      source: this.source,
      ingest_time: new Date(this.ingestTime / 1000).toISOString(),
    });
    await this.quarantine.append(`${line}\n`);
    this.quarantined++;
  }

  /**
   * Converts and stores everything staged, removes this input's events from compacted files that
   * hold them from an earlier run, stores the quarantine file and the manifest, and removes files an
   * earlier run of the same input wrote that this run did not (e.g. fewer rolls).
   */
  async finish(): Promise<InputManifest> {
    for (const partition of this.partitions.values()) {
      await partition.staged.close();
      await this.conversion;
      if (partition.staged.rows === 0) {
        await partition.staged.discard();
        continue;
      }
      const key = eventsPartKey(this.source, partition.date, this.inputKey, partition.part);
      this.conversion = this.lake.storeStaged(partition.staged, key).then((f) => this.files.push(f));
    }
    await this.conversion;
    this.partitions.clear();
    const storage = this.lake.storage;
    // An earlier run's events may since have been compacted into shared files: take them out there.
    const written = this.files.map((f) => f.key);
    await removeInputFromCompacted(storage, this.lake.connection, this.lake.staging, this.inputKey, written, this.lake.options.parquet);
    let quarantineFile: string | null = null;
    if (this.quarantine) {
      await this.quarantine.close();
      quarantineFile = quarantineKey(this.source, this.firstDate ?? utcDate(this.ingestTime), this.inputKey);
      await storage.putFile(quarantineFile, this.quarantine.path);
    }
    const manifest: InputManifest = {
      input: this.inputName,
      source: this.source,
      input_key: this.inputKey,
      ingest_time: new Date(this.ingestTime / 1000).toISOString(),
      events: this.events,
      quarantined: this.quarantined,
      files: this.files.sort((a, b) => a.key.localeCompare(b.key)),
      quarantine_file: quarantineFile,
    };
    const mKey = manifestKey(this.source, this.inputKey);
    const previous = await storage.get(mKey);
    if (previous) {
      const old = JSON.parse(previous.toString('utf8')) as InputManifest;
      const keep = new Set([...manifest.files.map((f) => f.key), quarantineFile]);
      for (const f of [...old.files.map((x) => x.key), old.quarantine_file]) if (f && !keep.has(f)) await storage.delete(f);
    }
    await storage.putBytes(mKey, `${JSON.stringify(manifest, null, 2)}\n`);
    const quarantineRows = quarantineFile ? [{ key: quarantineFile, rows: this.quarantined }] : [];
    await storage.commit(this.kind, this.inputKey, this.events + this.quarantined, [...manifest.files, ...quarantineRows]);
    return manifest;
  }

  /** Drops everything staged for this input; nothing of it reaches the lake. */
  async abort(): Promise<void> {
    await this.conversion.catch(() => {});
    for (const p of this.partitions.values()) await p.staged.discard();
    this.partitions.clear();
    await this.quarantine?.discard();
    this.lake.storage.discard();
  }
}
