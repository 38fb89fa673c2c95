import { type Measured, median } from './measure.js';

/** The runs of one contender on one input. */
export interface Series {
  label: string;
  bytes: number;
  records: number;
  runs: Measured[];
}

/** Medians of a series. */
export interface SeriesFigures {
  /** Runs that exited 0; the medians are over these. */
  ok: number;
  wallS: number;
  cpuS: number;
  recordsPerS: number;
  mbPerS: number;
  peakRssMb: number;
  /** Highest peak RSS of any run, crashed ones included (a run that died of OOM still shows its peak). */
  worstPeakRssMb: number;
}

/** Medians over the successful runs (NaN when none succeeded). */
export function figures(s: Series): SeriesFigures {
  const ok = s.runs.filter((r) => r.code === 0);
  const wallS = median(ok.map((r) => r.wallS));
  return {
    ok: ok.length,
    wallS,
    cpuS: median(ok.map((r) => r.cpuS)),
    recordsPerS: s.records / wallS,
    mbPerS: s.bytes / 1e6 / wallS,
    peakRssMb: median(ok.map((r) => r.peakRssMb)),
    worstPeakRssMb: s.runs.length ? Math.max(...s.runs.map((r) => r.peakRssMb)) : Number.NaN,
  };
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–';

/** A Markdown table of the series' medians, with every run's wall time and peak RSS listed. */
export function resultTable(series: Series[]): string {
  const rows = [
    '| contender | input | wall s | CPU s (user+sys) | records/s | MB/s | peak RSS MB | runs: wall s / peak RSS MB |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const s of series) {
    const f = figures(s);
    const runs = s.runs.map((r) => `${r.wallS.toFixed(1)}/${r.peakRssMb.toFixed(0)}${r.code === 0 ? '' : ` (exit ${r.code})`}`).join(', ');
    rows.push(
      `| ${s.label} | ${fmt(s.bytes / 1e6, 1)} MB | ${fmt(f.wallS, 2)} | ${fmt(f.cpuS, 2)} | ${fmt(f.recordsPerS)} | ${fmt(f.mbPerS, 1)} | ${fmt(f.peakRssMb)} | ${runs} |`,
    );
  }
  return rows.join('\n');
}

/** The bars the benchmark holds auditlake to. */
export interface Bars {
  ratio: number;
  rssMb: number;
  /** Allowed growth of peak RSS when the input doubles. */
  flatGrowth: number;
}

/** One target line: PASS or MISS (n/a when not measured), the figure and the bar. */
function target(name: string, value: string, pass: boolean | null, bar: string): string {
  if (pass === null) return `  n/a   ${name}: ${value} (${bar})`;
  return `  ${pass ? 'PASS' : 'MISS'}  ${name}: ${value} (target ${bar})`;
}

const mbText = (n: number) => (Number.isFinite(n) ? `${n.toFixed(0)} MB` : 'no run');

/** The target lines for auditlake against the peer, and against itself on the doubled input. */
export function targetLines(auditlake: Series, peer: Series, doubled: Series | null, bars: Bars): string[] {
  const al = figures(auditlake);
  const duck = figures(peer);
  const ratio = al.recordsPerS / duck.recordsPerS;
  const okNote = (f: SeriesFigures, s: Series) => (f.ok === s.runs.length ? '' : `; ${f.ok} of ${s.runs.length} runs completed`);
  const cpuRatio = duck.cpuS / al.cpuS;
  const lines = [
    `  info  CPU-time ratio DuckDB/auditlake (steadier than wall time on a shared machine): ${Number.isFinite(cpuRatio) ? cpuRatio.toFixed(2) : 'n/a'}`,
    target(
      'throughput ratio auditlake/DuckDB (records/s)',
      `${Number.isFinite(ratio) ? ratio.toFixed(2) : 'no completed run'}${okNote(al, auditlake)}`,
      Number.isFinite(ratio) && ratio >= bars.ratio,
      `>= ${bars.ratio}`,
    ),
    target('auditlake peak RSS, worst run', mbText(al.worstPeakRssMb), al.worstPeakRssMb < bars.rssMb, `< ${bars.rssMb} MB`),
  ];
  if (!doubled) return [...lines, target('auditlake peak RSS flat when the input doubles', 'not measured', null, 'run with --flat')];
  const big = figures(doubled);
  const growth = big.worstPeakRssMb / al.worstPeakRssMb - 1;
  const value = `${mbText(al.worstPeakRssMb)} -> ${mbText(big.worstPeakRssMb)} (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(0)}%)${okNote(big, doubled)}`;
  return [
    ...lines,
    target(
      'auditlake peak RSS flat when the input doubles (worst runs)',
      value,
      big.ok === doubled.runs.length && growth <= bars.flatGrowth,
      `growth <= ${bars.flatGrowth * 100}%, every run completing`,
    ),
    target('auditlake peak RSS at 2x input, worst run', mbText(big.worstPeakRssMb), big.worstPeakRssMb < bars.rssMb, `< ${bars.rssMb} MB`),
  ];
}
