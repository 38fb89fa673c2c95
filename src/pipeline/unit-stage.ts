import type { InputManifest, LakeWriter } from '../lake/lake-writer.js';
import type { UnitCommit } from '../lake/unit-commit.js';
import type { Batch, Source } from '../schema/index.js';

/**
 * The one pipeline stage that turns events into lake output: a unit's batches in, its committed files
 * (and, for a stream, its checkpoint) out. File ingest, the Kinesis consumer, the Lambda Kinesis handler
 * and the proxy all write through it; nothing of a unit is visible until it commits, and a unit that
 * fails is rolled back (its pending files deleted) before the error goes on.
 */

/** What a unit is made of. */
export interface UnitSpec {
  source: Source | 'unknown';
  /** Names the unit in its manifest and quarantine lines (a file path, `kinesis:<stream>#<first event>`). */
  name: string;
  kind: 'ingest' | 'stream';
  batches: AsyncIterable<Batch> | Iterable<Batch>;
  /** Called with each batch before it is written (counting, rules); a throw rolls the unit back. */
  onBatch?: (batch: Batch) => Promise<void> | void;
  /** The unit's key (file names), asked once every batch is read: e.g. from a file's whole-content hash. */
  key: () => string;
  /** Hex SHA-256 of a file input's whole content, recorded in its manifest. */
  contentSha256?: () => string | undefined;
  /** A state object committed with the unit, e.g. a stream's checkpoint: it never runs ahead of the data. */
  state?: () => { key: string; body: string } | null;
  /** Called after the last batch, before the commit: `false` rolls the unit back (e.g. a duplicate input). */
  shouldCommit?: (key: string) => boolean;
}

/** What a committed unit wrote. */
export interface UnitResult {
  manifest: InputManifest | null;
  commit: UnitCommit | null;
  /** Events moved to the quarantine for being too large to store, by event class. */
  oversized: Record<string, number>;
  /** Events not stored because another input stored the same record already, by event class. */
  duplicates: Record<string, number>;
}

/** Writes one unit and commits it (or rolls it back and rethrows). */
export async function writeUnit(lake: LakeWriter, spec: UnitSpec): Promise<UnitResult> {
  const writer = lake.input(spec.source, spec.name, spec.kind);
  try {
    for await (const batch of spec.batches) {
      await spec.onBatch?.(batch);
      await writer.write(batch);
    }
    const key = spec.key();
    if (spec.shouldCommit && !spec.shouldCommit(key)) {
      await writer.abort();
      return { manifest: null, commit: null, oversized: writer.oversized, duplicates: {} };
    }
    const state = spec.state?.();
    if (state) writer.unit.setState(state.key, state.body);
    const { commit, ...manifest } = await writer.finish(key, spec.contentSha256?.());
    return { manifest, commit, oversized: writer.oversized, duplicates: writer.duplicates };
  } catch (e) {
    await writer.abort();
    throw e;
  }
}
