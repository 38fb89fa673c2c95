import type { LakeWriter } from '../lake/lake-writer.js';
import { alertsPartition } from '../lake/layout.js';
import { writeTable } from '../lake/table-writer.js';
import { catchUp } from '../rules/catch-up.js';
import { ALERT_FIELDS, type Alert, type AlertSink, createRuleEngine, type Rule, type RuleEngineStats } from '../rules/index.js';
import type { Batch } from '../schema/index.js';
import type { BatchObserver, StreamMark } from './ingest.js';
import { lakeRuleRunner, storedAlertIds } from './lake-alerts.js';

/**
 * The rules between the collectors and the lake: every batch is evaluated as it passes, alerts go to
 * the sinks as soon as they are final (JSONL, SNS, webhook), and at the end of the run the engine is
 * flushed, the catch-up pass re-evaluates over the lake what the stream could not evaluate in order
 * (`rules/catch-up.ts`; its new alerts are delivered too), and every alert of the run is written to the
 * lake's `alerts/` table.
 *
 * Each input is its own event-time stream (its name is the stream key); inputs are read one after the
 * other, so a new input ends the previous one's stream. A source read interleaved (the shards of a
 * Kinesis stream, a proxy instance) marks each batch with its stream instead (`StreamMark`): those
 * streams stay open together, the engine releases events only once every open stream is past them, and
 * a stream ends or goes idle only when its source says so.
 */
export interface RulesStage {
  /** Put this in the pipeline's observers. */
  observe: BatchObserver;
  /** Writes the alerts raised since the last write to the lake under `key` (a stream writes them per unit). */
  writePending(lake: LakeWriter, key: string): Promise<void>;
  /** Flushes windowed rules, runs the catch-up pass (with a lake), delivers the last alerts and writes the unwritten ones; returns the count raised. */
  finish(lake: LakeWriter | null, key: string): Promise<number>;
  alerts(): readonly Alert[];
  stats(): RuleEngineStats;
  /** Late events and what the catch-up pass did, for the run summary. */
  report(): RulesReport;
}

/** The rules part of a run summary. */
export interface RulesReport {
  /** Events that arrived behind what the stream had evaluated (later than the lateness, or an older input after a newer one). */
  late_events: number;
  /** Events released before their time because the reorder buffer was full (bounded memory; caught up like late ones). */
  forced_releases: number;
  /** Group states evicted because a rule's table was full (caught up like late events). */
  evicted_groups: number;
  /** Rules the catch-up pass re-evaluated over the lake (0 without a lake or nothing late). */
  caught_up_rules: number;
  /** Alerts the catch-up pass found that the stream had not raised (origin catch-up). */
  caught_up_alerts: number;
  /** Streamed alerts the lake contradicted, marked superseded. */
  superseded_alerts: number;
  /** Rules whose late groups overflowed the ledger, re-evaluated for every group. */
  widened_rules: number;
  /** Why the catch-up pass could not run (e.g. an S3 lake where DuckDB has no httpfs); the streamed alerts stand. */
  catch_up_error?: string;
}

/** Options of the rules stage. */
export interface RulesStageOptions {
  /** Tolerated out-of-order event time, e.g. `5m`. */
  lateness?: string;
  sinks: AlertSink[];
  /** Events held for reordering (default: the engine's). */
  maxBuffered?: number;
}

/** Most alerts held for the lake between writes; past it the run fails rather than grow without bound. */
export const MAX_ALERTS_PER_RUN = 1_000_000;

/** Key of a run's alerts file in one partition: derived from the run's inputs, so a re-run replaces it. */
export function alertsKey(date: string, runKey: string): string {
  return `${alertsPartition(date)}part-${runKey}.parquet`;
}

/** Builds the stage for a rule set. */
export function createRulesStage(rules: readonly Rule[], options: RulesStageOptions): RulesStage {
  const engine = createRuleEngine(rules, { lateness: options.lateness, maxBuffered: options.maxBuffered });
  const raised: Alert[] = [];
  let unwritten: Alert[] = [];
  let stream: string | undefined;
  const report: RulesReport = {
    late_events: 0,
    forced_releases: 0,
    evicted_groups: 0,
    caught_up_rules: 0,
    caught_up_alerts: 0,
    superseded_alerts: 0,
    widened_rules: 0,
  };
  /** Ids raised this run: an event read twice (a re-shipped input) raises its alerts again, with the same ids; each goes out once. */
  const seen = new Set<string>();
  const deliver = async (all: Alert[]) => {
    const alerts = all.filter((a) => !seen.has(a.alert_id));
    if (alerts.length === 0) return;
    for (const a of alerts) seen.add(a.alert_id);
    if (unwritten.length + alerts.length > MAX_ALERTS_PER_RUN) {
      throw new Error(`more than ${MAX_ALERTS_PER_RUN} alerts waiting for the lake: check the rules' thresholds and suppression`);
    }
    unwritten.push(...alerts);
    if (raised.length < MAX_ALERTS_PER_RUN) raised.push(...alerts.slice(0, MAX_ALERTS_PER_RUN - raised.length));
    for (const sink of options.sinks) await sink.write(alerts);
  };
  const writePending = async (lake: LakeWriter, key: string) => {
    if (unwritten.length === 0) return;
    await writeTable(
      lake,
      ALERT_FIELDS,
      unwritten,
      (a) => a.alert_time,
      (date) => alertsKey(date, key),
    );
    unwritten = [];
  };
  const caughtUp = async (lake: LakeWriter, key: string): Promise<Alert[]> => {
    const ledger = engine.lateScopes();
    if (ledger.size === 0) return [];
    let result: Awaited<ReturnType<typeof catchUp>>;
    try {
      const run = await lakeRuleRunner(lake.connection, lake.storage);
      result = await catchUp(rules, ledger, raised, run, (ids) =>
        storedAlertIds(lake.connection, lake.storage, ids, `part-${key}.parquet`),
      );
    } catch (e) {
      // The ingest itself succeeded: keep its alerts and say what was not re-evaluated (`auditlake hunt` can, later).
      report.catch_up_error = (e as Error).message;
      for (const a of raised) a.superseded = false;
      return [];
    }
    report.caught_up_rules = result.rules;
    report.caught_up_alerts = result.found.length;
    report.superseded_alerts = result.superseded;
    report.widened_rules = ledger.widened;
    return result.found;
  };
  return {
    async observe(batch: Batch, input?: string, mark?: StreamMark) {
      const alerts: Alert[] = [];
      if (mark) {
        alerts.push(...engine.process(batch.events, mark.key));
        if (mark.state === 'idle' || mark.state === 'ended') alerts.push(...engine.endStream(mark.key));
      } else {
        const name = input ?? '';
        if (stream !== undefined && stream !== name) alerts.push(...engine.endStream(stream));
        stream = name;
        alerts.push(...engine.process(batch.events, name));
      }
      const before = seen.size;
      await deliver(alerts);
      return seen.size - before;
    },
    writePending,
    async finish(lake, key) {
      const last = engine.flush();
      const before = seen.size;
      await deliver(last);
      const found = lake ? await caughtUp(lake, key) : [];
      await deliver(found);
      for (const sink of options.sinks) await sink.close();
      if (lake) await writePending(lake, key);
      return seen.size - before;
    },
    alerts: () => raised,
    stats: () => engine.stats(),
    report: () => {
      const s = engine.stats();
      report.late_events = s.late;
      report.forced_releases = s.forced;
      report.evicted_groups = Object.values(s.rules).reduce((n, r) => n + r.evicted_cap, 0);
      return { ...report };
    },
  };
}
