import type { Batch, Source, SourceFormat } from '../schema/index.js';

/**
 * What every collector is: an object in the registry (`registry.ts`) with the formats it reads, a
 * sniffing test for format detection, and an async generator from raw bytes to {@link Batch}es.
 * Collectors never import the lake, the pipeline or each other.
 */

/** One raw input: a file, an S3 object, a Lambda payload. */
export interface CollectorInput {
  /** How the input is named in `source_ref` (a path, an s3:// URI, `lambda:<request id>`). */
  name: string;
  /** The input's bytes, already decompressed. Read once, as a stream. */
  bytes: AsyncIterable<Buffer>;
  /** Id key of the input's content fingerprint (see `idKey`), used to derive event ids. */
  key: string;
}

/** Run-wide facts a collector may need. */
export interface CollectorContext {
  /** Ingest time stamped on every event, microseconds since the epoch. */
  ingestTime: number;
  /** Events per batch to aim for. */
  batchSize: number;
  /** Collector-specific options, validated by the collector's own schema. */
  options: Record<string, unknown>;
}

/** A collector as data: registered in one explicit table, not by import side effects. */
export interface Collector {
  /** Registry name, and the source (first partition key) of the events it reads, e.g. `pgaudit`. */
  kind: Source;
  /** The `--format` values it reads. */
  formats: readonly SourceFormat[];
  /** One line for `--help`. */
  description: string;
  /**
   * Given the first bytes of an input (up to 64 KiB, decompressed), the format it is in, or null when
   * this collector does not recognize it.
   */
  detect(head: string): SourceFormat | null;
  /** Reads `input` (in `format`) into batches. Must not throw on bad records: reject them instead. */
  collect(input: CollectorInput, format: string, ctx: CollectorContext): AsyncIterable<Batch>;
  /**
   * Formats whose inputs can also be cut into pieces and parsed in parallel (on worker threads), with
   * the same result as `collect`.
   */
  pieces?: Readonly<Record<string, PieceParser>>;
}

/** One piece of an input to parse: whole lines of its bytes, and what `collect` would have known. */
export interface PieceJob {
  bytes: Uint8Array;
  /** 1-based number, in the input, of the piece's first line. */
  firstLine: number;
  /** True for the input's last piece. */
  final: boolean;
  format: string;
  /** Input name and id key, as in {@link CollectorInput}. */
  name: string;
  key: string;
  ingestTime: number;
  batchSize: number;
}

/** What a piece gave: its batches, and the bytes at its end that start a record it does not finish. */
export interface PieceResult {
  batches: Batch[];
  /** Bytes at the end of the piece not consumed; 0 when the piece ended at a record boundary. */
  restBytes: number;
  /** Line number of the first unconsumed line. */
  restLine: number;
}

/**
 * Parses a format in pieces. `cut` proposes where to end a piece (an offset into a run of whole lines,
 * or -1); `parse` must give exactly what sequential reading gives for the records that end inside the
 * piece, and report the rest, so that a wrong guess costs a re-parse, never a wrong record.
 */
export interface PieceParser {
  cut(bytes: Uint8Array): number;
  /**
   * `finish`, when given, is called on each batch as soon as it fills and its result is kept instead (a
   * parse worker redacts and encodes it there and drops the events, so they die young rather than living
   * until the whole piece is parsed).
   */
  parse(job: PieceJob, finish?: (batch: Batch) => Batch): PieceResult;
}
