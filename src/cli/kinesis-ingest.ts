import { z } from 'zod';
import {
  createDasDecoder,
  createKinesisSource,
  filtersOf,
  parseDasOptions,
  type ShardPositions,
  shardPositionsSchema,
} from '../collectors/das/index.js';
import type { LakeWriter } from '../lake/lake-writer.js';
import { STATE_PREFIX } from '../lake/layout.js';
import { readState } from '../lake/state.js';
import type { Storage } from '../lake/storage.js';
import type { BatchTransform } from '../pipeline/policies-stage.js';
import type { RulesStage } from '../pipeline/rules-stage.js';
import { type StreamTotals, writeStream } from '../pipeline/stream.js';
import type { SqlRedactor } from '../redact/index.js';
import { idKey } from '../schema/index.js';
import { type Io, UsageError } from './command.js';
import { logJson, onStopSignal } from './signals.js';

/** Where a stream's per-shard checkpoints live in the lake. */
export function kinesisCheckpointKey(stream: string): string {
  return `${STATE_PREFIX}kinesis/${encodeURIComponent(stream)}.json`;
}

/** Options of a live Kinesis ingest. */
export interface KinesisIngestOptions {
  stream: string;
  from: 'trim-horizon' | 'latest';
  follow: boolean;
  dasOptions: Record<string, unknown>;
  rules: RulesStage | null;
  /** The policies stage (`--policies`): tags, and in `only` mode selects, before anything is counted. */
  policies: BatchTransform | null;
  flushEvents: number;
  flushMs: number;
  /** The redaction stage's redactor (default: built-in rules). */
  redactor?: SqlRedactor;
}

/** What a Kinesis run did: the stream's totals, KMS calls, and the positions it reached per shard. */
export type KinesisRunSummary = StreamTotals & { stream: string; kms_calls: number; checkpoints: ShardPositions };

/**
 * `auditlake ingest --kinesis-stream`: reads every shard of a DAS stream into the lake in units; a
 * unit's per-shard positions are saved in `_state/kinesis/` only after its files are durable, and a
 * later run resumes from them. SIGINT/SIGTERM stop reading, write what was read, and commit it.
 */
export async function ingestKinesis(options: KinesisIngestOptions, lake: LakeWriter, storage: Storage, io: Io): Promise<KinesisRunSummary> {
  let das: ReturnType<typeof parseDasOptions>;
  try {
    das = parseDasOptions(options.dasOptions);
  } catch (e) {
    throw new UsageError((e as Error).message, { cause: e });
  }
  const key = kinesisCheckpointKey(options.stream);
  const checkpoints = {
    async load(): Promise<ShardPositions> {
      return (await readState(storage, key, z.looseObject({ positions: shardPositionsSchema })))?.positions ?? {};
    },
    // The checkpoint is written by the unit that reaches it (see `checkpoint` below), in the same commit.
    async save() {},
  };
  const checkpointBody = (positions: ShardPositions) =>
    `${JSON.stringify({ stream: options.stream, saved_at: new Date().toISOString(), positions }, null, 2)}\n`;
  const decoder = createDasDecoder({ filters: filtersOf(das), concurrency: das.concurrency });
  const stop = new AbortController();
  const source = createKinesisSource({
    streamName: options.stream,
    decoder,
    resourceId: das.resourceId,
    from: options.from,
    follow: options.follow,
    checkpoints,
    signal: stop.signal,
  });
  const removeSignals = onStopSignal((signal) => {
    logJson(io.out, 'info', 'stopping', { signal });
    stop.abort();
  });
  try {
    const items = (async function* () {
      for await (const { batch, positions, shard, state } of source) {
        // Each shard is its own event-time stream for the rules: one shard's clock never makes another's events late.
        if (state) {
          yield { batch, stream: { key: shard, state } };
          continue;
        }
        options.policies?.(batch);
        yield { batch, position: positions, stream: { key: shard } };
      }
    })();
    const totals = await writeStream(items, lake, {
      source: 'das',
      name: `kinesis:${options.stream}`,
      flushEvents: options.flushEvents,
      flushMs: options.flushMs,
      observers: options.rules ? [options.rules.observe] : [],
      mergePosition: (a, b) => ({ ...a, ...b }),
      checkpoint: (positions) => ({ key, body: checkpointBody({ ...source.committed(), ...positions }) }),
      redactor: options.redactor,
      commit: (positions) => source.commit(positions),
      afterUnit: async (unitKey) => {
        await options.rules?.writePending(lake, unitKey);
      },
      onUnit: (unit) => {
        if (options.follow) logJson(io.out, 'info', 'unit written', unit);
      },
    });
    // Alerts still in windows at the end are keyed by how far the stream was read, so a replay replaces them.
    if (options.rules)
      totals.alerts += await options.rules.finish(lake, idKey('kinesis', options.stream, JSON.stringify(source.committed())));
    return { stream: options.stream, ...totals, kms_calls: decoder.stats().kmsCalls, checkpoints: source.committed() };
  } finally {
    removeSignals();
  }
}
