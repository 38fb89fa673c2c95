import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { z } from 'zod';
import {
  type AuditEvent,
  type Batch,
  EVENT_FIELDS,
  type FieldSpec,
  nowMicros,
  type Rejected,
  type Source,
  utcDate,
} from '../schema/index.js';
import { AppendedPart } from './appended-part.js';
import { removeInputFromCompacted } from './compacted-files.js';
import { recoverCompactions } from './compaction-journal.js';
import { openDuckDbInstance, returnFreedMemory } from './duckdb.js';
import { clearAbandonedStaging } from './fs-storage.js';
import type { Signer } from './integrity/signers.js';
import { acquireLakeLock, type LakeLock } from './lake-lock.js';
import { eventDate, eventsPartKey, manifestKey, quarantineKey } from './layout.js';
import { convertStagedCsv, DEFAULT_PARQUET, type ParquetOptions } from './parquet-convert.js';
import { StagedFile } from './staged-file.js';
import { ENCODE_CHARS, encodeEvents } from './staging-row.js';
import { readState } from './state.js';
import type { Storage } from './storage.js';
import { dropStoredEvents, type PendingPart } from './stored-once.js';
import { LakeUnit, recoverUnits, type UnitRecovery } from './unit.js';
import { type CommitHook, commitHooksFor, type UnitCommit, type UnitKind } from './unit-commit.js';

/** How files are sized and encoded. */
export interface LakeWriterOptions {
  /** A partition's Parquet file is rolled when its staged rows reach this many bytes (after the batch that crosses it). */
  rollBytes: number;
  parquet: ParquetOptions;
  /** Signs each unit's digest; null or absent: digests are chained but unsigned. */
  signer?: Signer | null;
  /**
   * How events reach DuckDB: `csv` stages CSV text that DuckDB converts (`staged-file.ts`), `append` appends
   * columns with DuckDB's appender (`appended-part.ts`). Default: the `AUDITLAKE_WRITER` environment
   * variable, else {@link DEFAULT_EVENT_WRITER}.
   */
  writer?: EventWriter;
}

/** The two ways events reach DuckDB (see `LakeWriterOptions.writer`). */
export type EventWriter = 'csv' | 'append';
export const EVENT_WRITERS: readonly EventWriter[] = ['csv', 'append'];
export const DEFAULT_EVENT_WRITER: EventWriter = 'csv';

/** The writer `AUDITLAKE_WRITER` names, or the default. */
export function eventWriterFromEnv(env: NodeJS.ProcessEnv = process.env): EventWriter {
  const named = env.AUDITLAKE_WRITER;
  if (!named) return DEFAULT_EVENT_WRITER;
  if ((EVENT_WRITERS as readonly string[]).includes(named)) return named as EventWriter;
  throw new Error(`AUDITLAKE_WRITER=${named}: expected one of ${EVENT_WRITERS.join(', ')}`);
}

/**
 * 128 MiB of staged rows make a Parquet file of roughly 15-30 MB: small enough that DuckDB converts one
 * while the next is parsed (and within its memory limit), large enough per input; `auditlake compact`
 * merges files toward Athena's preferred sizes.
 */
/**
 * DuckDB threads of a writer's own database. One: conversions run while the next rows are parsed, and
 * parsing is the slower side, so a second thread measured no faster on a 200 MB log and cost about 50 MB
 * more memory.
 */
const WRITER_DUCKDB_THREADS = 1;

export const DEFAULT_LAKE_WRITER: LakeWriterOptions = { rollBytes: 128 * 1024 * 1024, parquet: DEFAULT_PARQUET };

/** What a re-run reads of an input's earlier manifest: the files it replaces (other fields are not needed). */
const previousManifestSchema = z.looseObject({
  files: z.array(z.looseObject({ key: z.string() })),
  quarantine_file: z.string().nullable(),
});

/** One Parquet file written. */
export interface WrittenFile {
  key: string;
  rows: number;
}

/** What writing one input produced; also stored as the input's manifest. */
export interface InputManifest {
  input: string;
  source: Source | 'unknown';
  /** The input's key: from the SHA-256 of its whole content (files) or the unit's first event (streams). */
  input_key: string;
  /** Hex SHA-256 of the input's whole (decompressed) content, for file inputs. */
  content_sha256?: string;
  /** The unit that committed these files (see `unit-commit.ts`). */
  unit_id: string;
  ingest_time: string;
  events: number;
  quarantined: number;
  files: WrittenFile[];
  quarantine_file: string | null;
}

interface Partition {
  date: string;
  staged: StagedFile | AppendedPart;
  part: number;
}

/**
 * Writes the events of the inputs of one run into the lake. Per input and partition, rows are staged
 * in a local file; when it reaches `rollBytes`, or the input ends, DuckDB converts it to Parquet and
 * the file is stored in the input's pending unit (`unit.ts`), published when the input commits. One
 * conversion runs at a time, off the JavaScript thread, while the next rows are parsed: a bounded
 * pipeline of depth one.
 */
export class LakeWriter {
  private constructor(
    readonly storage: Storage,
    readonly options: LakeWriterOptions,
    private readonly duck: DuckDBConnection,
    private readonly stagingDir: string,
    readonly hooks: readonly CommitHook[],
    readonly recovered: UnitRecovery,
    private readonly lock: LakeLock | null,
    /** The appending connection of the `append` writer (null: events are staged as CSV). */
    readonly appendConnection: DuckDBConnection | null,
    /** True when the writer opened its own DuckDB, whose settings are then its own to change. */
    private readonly ownsDuckDb: boolean,
  ) {}

  /**
   * Opens a writer over a storage, after finishing or undoing whatever a killed process left behind:
   * half-published units are rolled forward, uncommitted units' pending files deleted, and an old-style
   * compaction journal finished.
   */
  static async open(
    storage: Storage,
    options: LakeWriterOptions = DEFAULT_LAKE_WRITER,
    duck?: DuckDBConnection,
    writer: { lock?: string } = {},
  ): Promise<LakeWriter> {
    // The lock first (`lake-lock.ts`): cleaning up after a dead writer is safe only when no other runs.
    const lock = writer.lock ? await acquireLakeLock(storage, writer.lock) : null;
    try {
      const hooks = commitHooksFor(storage, options.signer ?? null);
      await recoverCompactions(storage, options.signer ?? null);
      const recovered = await recoverUnits(storage, hooks);
      const stagingDir = await storage.stagingDir();
      // Staged rows and DuckDB spill files of killed runs (not those of writers running beside this one).
      await clearAbandonedStaging(storage, lock !== null);
      const writer = options.writer ?? eventWriterFromEnv();
      let instance: DuckDBInstance | null = null;
      if (!duck) {
        instance = await openDuckDbInstance({ memoryLimit: '256MB', threads: WRITER_DUCKDB_THREADS, tempDirectory: stagingDir });
        duck = await instance.connect();
      }
      // Appending needs a second connection of the same database: the previous part's COPY runs on the first.
      const appendConnection = writer === 'append' && instance ? await instance.connect() : null;
      return new LakeWriter(storage, options, duck, stagingDir, hooks, recovered, lock, appendConnection, instance !== null);
    } catch (e) {
      await lock?.release();
      throw e;
    }
  }

  /** Closes DuckDB and releases the lake's lock. */
  async close(): Promise<void> {
    this.appendConnection?.closeSync();
    this.duck.closeSync();
    await this.lock?.release();
  }

  /** Starts writing the events of one input (a file, a stream unit); `finish` names and commits it. */
  input(source: Source | 'unknown', inputName: string, kind: UnitKind = 'ingest'): InputWriter {
    return new InputWriter(this, source, inputName, new LakeUnit(this.storage, kind, this.hooks));
  }

  /** A new unit committing through this lake's hooks (alerts, other tables). */
  unit(kind: UnitKind): LakeUnit {
    return new LakeUnit(this.storage, kind, this.hooks);
  }

  /** Converts a staged file to Parquet in the local staging folder; checks the row count DuckDB reports. */
  async convert(staged: StagedFile | AppendedPart, name: string, fields: readonly FieldSpec[] = EVENT_FIELDS): Promise<string> {
    const tag = staged instanceof AppendedPart ? staged.table.slice(-8) : staged.path.slice(-12, -4);
    const parquet = join(this.stagingDir, `${name.replaceAll('/', '_')}-${tag}.parquet`);
    try {
      const rows =
        staged instanceof AppendedPart
          ? await staged.convert(this.duck, parquet, this.options.parquet)
          : await convertStagedCsv(this.duck, staged.path, parquet, this.options.parquet, fields);
      // Before the next rows are parsed beside the next conversion: the peak is where the two overlap.
      if (this.ownsDuckDb) await returnFreedMemory(this.duck, WRITER_DUCKDB_THREADS);
      if (rows !== staged.rows) throw new Error(`Parquet conversion of ${name} wrote ${rows} rows, ${staged.rows} were staged`);
      return parquet;
    } catch (e) {
      await rm(parquet, { force: true });
      throw e;
    } finally {
      if (!(staged instanceof AppendedPart)) await rm(staged.path, { force: true });
    }
  }

  /** Converts a staged file and stores it in `unit`'s pending folder, to be published under `key`. */
  async storeStaged(unit: LakeUnit, staged: StagedFile, key: string, fields: readonly FieldSpec[] = EVENT_FIELDS): Promise<WrittenFile> {
    const rows = staged.rows;
    const parquet = await this.convert(staged, key, fields);
    try {
      await unit.putFile(key, parquet, rows);
    } finally {
      await rm(parquet, { force: true });
    }
    return { key, rows };
  }

  /** Staging directory (for the quarantine's staged JSONL). */
  get staging(): string {
    return this.stagingDir;
  }

  /** Bytes per piece of encoded staged rows: a file can roll after any piece, so never more than the roll size. */
  get encodePieceBytes(): number {
    return Math.min(ENCODE_CHARS, this.options.rollBytes);
  }

  /** The DuckDB connection, for queries after writing. */
  get connection(): DuckDBConnection {
    return this.duck;
  }
}

/** Writes one input's events and rejected records as one unit. Call `finish` to commit them. */
export class InputWriter {
  private partitions = new Map<string, Partition>();
  private conversion: Promise<unknown> = Promise.resolve();
  private parts: PendingPart[] = [];
  private quarantine: StagedFile | null = null;
  private quarantined = 0;
  private events = 0;
  /** Events moved to the quarantine for being too large, by event class (the pipeline counted them as events). */
  readonly oversized: Record<string, number> = {};
  /** Events not stored because another input already stored the same record, by event class. */
  duplicates: Record<string, number> = {};
  private firstDate: string | null = null;
  private readonly ingestTime = nowMicros();

  constructor(
    private readonly lake: LakeWriter,
    private readonly source: Source | 'unknown',
    private readonly inputName: string,
    readonly unit: LakeUnit,
  ) {}

  /** Stages a batch's events (encoded here unless a worker encoded them) and rejected records. */
  async write(batch: Batch): Promise<void> {
    if (this.lake.appendConnection) {
      // Parse workers encode staged CSV rows; the appender takes events.
      if (batch.encoded)
        throw new Error('a batch encoded as staged CSV rows reached the append writer (parse workers need AUDITLAKE_WRITER=csv)');
      return this.append(batch);
    }
    const encoded = batch.encoded ?? encodeEvents(batch.events, this.lake.encodePieceBytes);
    for (const r of encoded.oversized) {
      this.oversized[r.event_class] = (this.oversized[r.event_class] ?? 0) + 1;
      await this.reject(r);
    }
    for (const part of encoded.parts) {
      const partition = this.partitions.get(part.date) ?? (await this.openPartition(part.date, 0));
      await (partition.staged as StagedFile).appendBytes(part.bytes, part.rows);
      this.events += part.rows;
      if (partition.staged.size >= this.lake.options.rollBytes) await this.roll(partition);
    }
    for (const r of batch.rejected) await this.reject(r);
  }

  /** Appends a batch's events as columns, by partition date (the `append` writer). */
  private async append(batch: Batch): Promise<void> {
    const byDate = new Map<string, AuditEvent[]>();
    for (const event of batch.events) {
      const date = eventDate(event.event_time);
      const list = byDate.get(date);
      if (list) list.push(event);
      else byDate.set(date, [event]);
    }
    for (const [date, events] of byDate) {
      for (let i = 0; i < events.length; ) {
        const partition = this.partitions.get(date) ?? (await this.openPartition(date, 0));
        const part = partition.staged as AppendedPart;
        const before = part.rows;
        const added = part.add(events, i, this.lake.options.rollBytes);
        i = added.next;
        for (const r of added.oversized) {
          this.oversized[r.event_class] = (this.oversized[r.event_class] ?? 0) + 1;
          await this.reject(r);
        }
        this.events += part.rows - before;
        if (part.size >= this.lake.options.rollBytes) await this.roll(partition);
      }
    }
    for (const r of batch.rejected) await this.reject(r);
  }

  private async openPartition(date: string, part: number): Promise<Partition> {
    this.firstDate ??= date;
    const append = this.lake.appendConnection;
    const staged = append ? await AppendedPart.create(append) : await StagedFile.create(this.lake.staging, '.csv');
    const partition = { date, part, staged };
    this.partitions.set(date, partition);
    return partition;
  }

  /** Converts a closed staged file and stores it pending, after the previous conversion. */
  private convertPart(partition: Partition): void {
    const { date, part, staged } = partition;
    const previous = this.conversion;
    this.conversion = previous.then(async () => {
      const rows = staged.rows;
      const parquet = await this.lake.convert(staged, `${date}-${part}`);
      try {
        this.parts.push({ date, part, staged: await this.unit.stageFile(parquet, rows, `${date}-${part}.parquet`) });
      } finally {
        await rm(parquet, { force: true });
      }
    });
    // Surface a failed conversion at the next await rather than as an unhandled rejection.
    this.conversion.catch(() => {});
  }

  /** Hands a full staged file to conversion (after the previous one finishes) and starts the next. */
  private async roll(partition: Partition): Promise<void> {
    await partition.staged.close();
    await this.conversion;
    this.convertPart(partition);
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

  /** Events written so far (oversized ones are quarantined, not counted here). */
  get eventCount(): number {
    return this.events;
  }

  /**
   * Converts and stores everything staged, then commits the input as one unit under `inputKey`: its
   * Parquet files and quarantine file are published, files an earlier run of the same input wrote and
   * this run did not are removed, its events are taken out of compacted files that hold them from an
   * earlier run, and its manifest is written. Nothing of the input is visible before this returns.
   */
  async finish(inputKey: string, contentSha256?: string): Promise<InputManifest & { commit: UnitCommit }> {
    for (const partition of this.partitions.values()) {
      await partition.staged.close();
      await this.conversion;
      if (partition.staged.rows === 0) {
        await partition.staged.discard();
        continue;
      }
      this.convertPart(partition);
    }
    await this.conversion;
    this.partitions.clear();
    const storage = this.lake.storage;
    const once = await dropStoredEvents(
      this.unit,
      this.lake.connection,
      this.lake.staging,
      this.source,
      inputKey,
      this.parts,
      this.lake.options.parquet,
    );
    this.parts = once.parts;
    this.duplicates = once.dropped;
    for (const n of Object.values(once.dropped)) this.events -= n;
    const files: WrittenFile[] = [];
    for (const p of this.parts) {
      const key = eventsPartKey(this.source, p.date, inputKey, p.part);
      this.unit.publish(p.staged, key);
      files.push({ key, rows: p.staged.rows });
    }
    // An earlier run's events may since have been compacted into shared files: take them out there.
    await removeInputFromCompacted(
      this.unit,
      this.lake.connection,
      this.lake.staging,
      inputKey,
      this.parts.map((p) => ({ pending: p.staged.pending, key: eventsPartKey(this.source, p.date, inputKey, p.part) })),
      this.lake.options.parquet,
    );
    let quarantineFile: string | null = null;
    if (this.quarantine) {
      await this.quarantine.close();
      quarantineFile = quarantineKey(this.source, this.firstDate ?? utcDate(this.ingestTime), inputKey);
      await this.unit.putFile(quarantineFile, this.quarantine.path, this.quarantined);
    }
    const manifest: InputManifest = {
      input: this.inputName,
      source: this.source,
      input_key: inputKey,
      ...(contentSha256 ? { content_sha256: contentSha256 } : {}),
      unit_id: this.unit.id,
      ingest_time: new Date(this.ingestTime / 1000).toISOString(),
      events: this.events,
      quarantined: this.quarantined,
      files: files.sort((a, b) => a.key.localeCompare(b.key)),
      quarantine_file: quarantineFile,
    };
    const mKey = manifestKey(this.source, inputKey);
    const old = await readState(storage, mKey, previousManifestSchema);
    if (old) for (const f of [...old.files.map((x) => x.key), old.quarantine_file]) if (f) this.unit.remove(f);
    this.unit.setState(mKey, `${JSON.stringify(manifest, null, 2)}\n`);
    const commit = await this.unit.commit();
    return { ...manifest, commit };
  }

  /** Drops everything staged and stored pending for this input; nothing of it reaches the lake. */
  async abort(): Promise<void> {
    await this.conversion.catch(() => {});
    for (const p of this.partitions.values()) await p.staged.discard();
    this.partitions.clear();
    await this.quarantine?.discard();
    await this.unit.abort();
  }
}
