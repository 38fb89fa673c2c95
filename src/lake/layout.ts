import type { Source } from '../schema/index.js';

/**
 * The lake's layout, as pure functions of what a file holds (see the README's "Lake layout"):
 * `events/source=<source>/event_date=<YYYY-MM-DD>/part-<input key>-<n>.parquet`. File names derive
 * from the input, so ingesting the same input again replaces its files instead of adding to them.
 */

export const EVENTS_PREFIX = 'events/';
export const ALERTS_PREFIX = 'alerts/';
export const QUARANTINE_PREFIX = '_quarantine/';
export const STATE_PREFIX = '_state/';

/** Folder of one events partition. */
export function eventsPartition(source: Source | string, date: string): string {
  return `${EVENTS_PREFIX}source=${source}/event_date=${date}/`;
}

/** Key of the `n`th Parquet file written from an input into a partition. */
export function eventsPartKey(source: Source | string, date: string, inputKey: string, n: number): string {
  return `${eventsPartition(source, date)}part-${inputKey}-${n}.parquet`;
}

/** Key of the `n`th file a compaction wrote into a partition; `id` (16 hex digits) derives from the keys it merged. */
export function compactedPartKey(partition: string, id: string, n: number): string {
  return `${partition}part-c${id}-${n}.parquet`;
}

/** What a Parquet file's name says: the partition folder, and the input key (ingested) or compaction id. */
export interface PartName {
  partition: string;
  inputKey: string | null;
  compactionId: string | null;
}

/** Parses an events file key; null for anything that is not a Parquet part file. */
export function parsePartKey(key: string): PartName | null {
  // Input keys are 20 hex digits and compaction ids 16, so `c` + id never reads as an input key.
  const m = /^(.*\/)part-(?:c([0-9a-f]{16})|([0-9a-f]{20}))-\d+\.parquet$/.exec(key);
  if (!m) return null;
  return { partition: m[1], inputKey: m[3] ?? null, compactionId: m[2] ?? null };
}

/** Key of the index of a compacted file: which inputs' events it holds. */
export function compactedIndexKey(partKey: string): string {
  return `${STATE_PREFIX}compacted/${partKey.replace(/\.parquet$/, '.json')}`;
}

/** Folder of the compacted-file indexes of one partition. */
export function compactedIndexPrefix(partition: string): string {
  return `${STATE_PREFIX}compacted/${partition}`;
}

/** Key of a compaction's journal. */
export function compactionJournalKey(id: string): string {
  return `${STATE_PREFIX}compactions/${id}.json`;
}

/** Folder of one alerts partition. */
export function alertsPartition(date: string): string {
  return `${ALERTS_PREFIX}event_date=${date}/`;
}

/** Key of the quarantine file of one input. */
export function quarantineKey(source: Source | string, date: string, inputKey: string): string {
  return `${QUARANTINE_PREFIX}source=${source}/event_date=${date}/part-${inputKey}.jsonl`;
}

/** Key of an input's manifest: what was read from it and which files hold its events. */
export function manifestKey(source: Source | string, inputKey: string): string {
  return `${STATE_PREFIX}manifests/source=${source}/${inputKey}.json`;
}

const DAY_MICROS = 86_400_000_000;
const dayNames = new Map<number, string>();

/** `event_date` of a timestamp (µs), cached per day: this runs for every event. */
export function eventDate(micros: number): string {
  const day = Math.floor(micros / DAY_MICROS);
  let name = dayNames.get(day);
  if (name === undefined) {
    name = new Date(day * 86_400_000).toISOString().slice(0, 10);
    if (dayNames.size > 100_000) dayNames.clear();
    dayNames.set(day, name);
  }
  return name;
}
