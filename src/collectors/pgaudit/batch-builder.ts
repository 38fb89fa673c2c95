import { type Batch, newBatch, rejected, skip } from '../../schema/index.js';
import type { LogRecord } from './log-record.js';
import { type MapContext, mapLogRecord } from './map-record.js';

/** Collects mapped records into batches and yields them when full. */
export class BatchBuilder {
  batch: Batch = newBatch();
  constructor(
    readonly ctx: MapContext,
    readonly batchSize: number,
  ) {}

  /** Maps and adds one record; `line` numbers the record within the input (the event id ordinal). */
  add(record: LogRecord, ordinal: number, sourceRef: string, raw: string): void {
    const b = this.batch;
    b.records++;
    const mapped = mapLogRecord(record, ordinal, sourceRef, this.ctx);
    if ('event' in mapped) b.events.push(mapped.event);
    else if ('skip' in mapped) skip(b, mapped.skip);
    else b.rejected.push(rejected(sourceRef, mapped.reject, raw));
  }

  reject(sourceRef: string, reason: string, raw: string): void {
    this.batch.records++;
    this.batch.rejected.push(rejected(sourceRef, reason, raw));
  }

  /** The batch, if it is full (or `force`), replaced by an empty one. */
  take(force = false): Batch | null {
    const b = this.batch;
    if (!force && b.events.length + b.rejected.length < this.batchSize) return null;
    if (b.records === 0 && !force) return null;
    this.batch = newBatch();
    return b;
  }
}
