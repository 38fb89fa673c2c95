import { isSourceFormat, type SourceFormat } from '../schema/index.js';
import type { Collector } from './contract.js';
import { dasCollector } from './das/collector.js';
import { pgauditCollector } from './pgaudit/collector.js';
import { proxyEventsCollector } from './proxy-events/collector.js';

/**
 * Every collector, in detection order. One explicit table: a collector exists when it is listed here,
 * never because a module was imported for its side effects.
 */
export const COLLECTORS: readonly Collector[] = [pgauditCollector, dasCollector, proxyEventsCollector];

/** Every `--format` value, `auto` first. */
export function knownFormats(): string[] {
  return ['auto', ...COLLECTORS.flatMap((c) => c.formats)];
}

/** The collector that reads `format`, or undefined. */
export function collectorForFormat(format: string): Collector | undefined {
  return isSourceFormat(format) ? COLLECTORS.find((c) => c.formats.includes(format)) : undefined;
}

/** The first collector that recognizes the head of an input, with the format it saw. */
export function detectFormat(head: string): { collector: Collector; format: SourceFormat } | null {
  for (const collector of COLLECTORS) {
    const format = collector.detect(head);
    if (format) return { collector, format };
  }
  return null;
}
