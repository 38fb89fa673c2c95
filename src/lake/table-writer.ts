import type { FieldSpec } from '../schema/index.js';
import type { LakeWriter, WrittenFile } from './lake-writer.js';
import { eventDate } from './layout.js';
import { StagedFile } from './staged-file.js';
import { rowEncoderFor } from './staging-row.js';

/**
 * Writes rows of another declared table (the alerts) into the lake with the same staging and
 * Parquet conversion as events: one file per `event_date` partition, named by the caller's key so
 * that writing the same rows again replaces the file. For small tables written once per run; the
 * files of one call are one unit of kind `alerts`, published together.
 */
export async function writeTable<Row extends object>(
  lake: LakeWriter,
  fields: readonly FieldSpec[],
  rows: readonly Row[],
  timeOf: (row: Row) => number,
  keyFor: (date: string) => string,
): Promise<WrittenFile[]> {
  const encode = rowEncoderFor(fields);
  const byDate = new Map<string, Row[]>();
  for (const row of rows) {
    const date = eventDate(timeOf(row));
    const list = byDate.get(date) ?? [];
    list.push(row);
    byDate.set(date, list);
  }
  const written: WrittenFile[] = [];
  const unit = lake.unit('alerts');
  try {
    for (const [date, list] of [...byDate].sort((a, b) => a[0].localeCompare(b[0]))) {
      const staged = await StagedFile.create(lake.staging, '.csv');
      for (const row of list) if (staged.add(encode(row))) await staged.drain();
      await staged.close();
      written.push(await lake.storeStaged(unit, staged, keyFor(date), fields));
    }
    await unit.commit();
  } catch (e) {
    await unit.abort();
    throw e;
  }
  return written;
}
