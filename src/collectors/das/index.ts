/** Aurora Database Activity Streams: file collector, record decoder, live Kinesis reader. */
export { createDasCollector, type DasCollectorDeps, dasCollector } from './collector.js';
export { DataKeyCache, type DataKeyCacheOptions } from './data-key-cache.js';
export {
  type CachedKey,
  createDasDecoder,
  type DasDecoder,
  type DasDecoderOptions,
  type DasUnit,
  type KinesisRecordInput,
  kinesisUnit,
} from './decoder.js';
export { createKinesisClient } from './kinesis-client.js';
export { kinesisEventUnits, looksLikeKinesisEvent } from './kinesis-event.js';
export {
  type CheckpointStore,
  createKinesisSource,
  type KinesisSource,
  type KinesisSourceOptions,
  SHARD_END,
  type ShardPositions,
  type SourceBatch,
  shardPositionsSchema,
} from './kinesis-source.js';
export { DasTransientError, encryptionContextFor, resourceIdFromStream } from './kms.js';
export { type DasFilters, SKIP } from './map-event.js';
export { type DasOptions, dasOptionsSchema, filtersOf, parseDasOptions } from './options.js';
