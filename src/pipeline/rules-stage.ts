import type { LakeWriter } from '../lake/lake-writer.js';
import { alertsPartition } from '../lake/layout.js';
import { writeTable } from '../lake/table-writer.js';
import { ALERT_FIELDS, type Alert, type AlertSink, createRuleEngine, type Rule, type RuleEngineStats } from '../rules/index.js';
import type { Batch } from '../schema/index.js';
import type { BatchObserver } from './ingest.js';

/**
 * The rules between the collectors and the lake: every batch is evaluated as it passes, alerts go to
 * the sinks as soon as they are final (JSONL, SNS, webhook), and at the end of the run the engine is
 * flushed and every alert of the run is written to the lake's `alerts/` table.
 */
export interface RulesStage {
  /** Put this in the pipeline's observers. */
  observe: BatchObserver;
  /** Writes the alerts raised since the last write to the lake under `key` (a stream writes them per unit). */
  writePending(lake: LakeWriter, key: string): Promise<void>;
  /** Flushes windowed rules, delivers the last alerts and writes the unwritten ones to the lake; returns the count flushed. */
  finish(lake: LakeWriter | null, key: string): Promise<number>;
  alerts(): readonly Alert[];
  stats(): RuleEngineStats;
}

/** Options of the rules stage. */
export interface RulesStageOptions {
  /** Tolerated out-of-order event time, e.g. `5m`. */
  lateness?: string;
  sinks: AlertSink[];
}

/** Most alerts held for the lake between writes; past it the run fails rather than grow without bound. */
export const MAX_ALERTS_PER_RUN = 1_000_000;

/** Key of a run's alerts file in one partition: derived from the run's inputs, so a re-run replaces it. */
export function alertsKey(date: string, runKey: string): string {
  return `${alertsPartition(date)}part-${runKey}.parquet`;
}

/** Builds the stage for a rule set. */
export function createRulesStage(rules: readonly Rule[], options: RulesStageOptions): RulesStage {
  const engine = createRuleEngine(rules, { lateness: options.lateness });
  const raised: Alert[] = [];
  let unwritten: Alert[] = [];
  const deliver = async (alerts: Alert[]) => {
    if (alerts.length === 0) return;
    if (unwritten.length + alerts.length > MAX_ALERTS_PER_RUN) {
      throw new Error(`more than ${MAX_ALERTS_PER_RUN} alerts waiting for the lake: check the rules' thresholds and suppression`);
    }
    unwritten.push(...alerts);
    if (raised.length < MAX_ALERTS_PER_RUN) raised.push(...alerts.slice(0, MAX_ALERTS_PER_RUN - raised.length));
    for (const sink of options.sinks) await sink.write(alerts);
  };
  const writePending = async (lake: LakeWriter, key: string) => {
    if (unwritten.length === 0) return;
    const written = await writeTable(
      lake,
      ALERT_FIELDS,
      unwritten,
      (a) => a.alert_time,
      (date) => alertsKey(date, key),
    );
    await lake.storage.commit('alerts', key, unwritten.length, written);
    unwritten = [];
  };
  return {
    async observe(batch: Batch) {
      const alerts = engine.process(batch.events);
      await deliver(alerts);
      return alerts.length;
    },
    writePending,
    async finish(lake, key) {
      const last = engine.flush();
      await deliver(last);
      for (const sink of options.sinks) await sink.close();
      if (lake) await writePending(lake, key);
      return last.length;
    },
    alerts: () => raised,
    stats: () => engine.stats(),
  };
}
