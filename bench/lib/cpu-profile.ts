import { readFile } from 'node:fs/promises';

/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes) and says where the JavaScript thread's time went:
 * self time per function (samples whose top frame it was), inclusive time per function (samples with it
 * anywhere on the stack, counted once per sample), and self time per file. Only the main thread is sampled:
 * DuckDB's native threads do not appear, and time the main thread spends waiting for them is `(idle)`.
 * Positions are those of the code V8 ran (tsc's `dist/` output, or tsx's transpiled sources), so sources
 * are named by file and function.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

/** One row of a top list. */
export interface ProfileRow {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

/** The summary of one profile. */
export interface ProfileSummary {
  totalMs: number;
  samples: number;
  self: ProfileRow[];
  inclusive: ProfileRow[];
  files: ProfileRow[];
}

function shortUrl(url: string, root: string): string {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith(root) ? path.slice(root.length + 1) : path.replace(/^.*\/node_modules\//, 'node_modules/');
}

function top(map: Map<string, { name: string; where: string; hits: number }>, msPerHit: number, total: number, n: number): ProfileRow[] {
  return [...map.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, n)
    .map((v) => ({ name: v.name, where: v.where, ms: v.hits * msPerHit, percent: (v.hits / total) * 100 }));
}

/** Summarizes a `.cpuprofile`; paths under `root` are shown relative to it. */
export async function summarizeProfile(path: string, root: string, n = 15): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const key = (node: ProfileNode) => {
    const f = node.callFrame;
    const file = shortUrl(f.url, root);
    // tsx emits each module on one line, so a line number is only shown when there is more than one.
    const where = file && f.lineNumber > 0 ? `${file}:${f.lineNumber + 1}` : file;
    return { id: `${f.functionName}|${f.url}|${f.lineNumber}|${f.columnNumber}`, name: f.functionName || '(anonymous)', where, file };
  };
  const self = new Map<string, { name: string; where: string; hits: number }>();
  const inclusive = new Map<string, { name: string; where: string; hits: number }>();
  const files = new Map<string, { name: string; where: string; hits: number }>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    total += hits;
    const k = key(node);
    const s = self.get(k.id) ?? { name: k.name, where: k.where, hits: 0 };
    s.hits += hits;
    self.set(k.id, s);
    const fileKey = k.file || k.name;
    const f = files.get(fileKey) ?? { name: fileKey, where: '', hits: 0 };
    f.hits += hits;
    files.set(fileKey, f);
    // Every function on this node's stack, once (recursion counted once).
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id);
      if (!frame) break;
      const fk = key(frame);
      if (seen.has(fk.id)) continue;
      seen.add(fk.id);
      const inc = inclusive.get(fk.id) ?? { name: fk.name, where: fk.where, hits: 0 };
      inc.hits += hits;
      inclusive.set(fk.id, inc);
    }
  }
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const msPerHit = total ? totalMs / total : 0;
  const notFrames = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);
  for (const [k, v] of inclusive) if (notFrames.has(v.name) || !v.where) inclusive.delete(k);
  return {
    totalMs,
    samples: total,
    self: top(self, msPerHit, total, n),
    inclusive: top(inclusive, msPerHit, total, n),
    files: top(files, msPerHit, total, 10),
  };
}

/** The summary as text tables. */
export function formatProfile(s: ProfileSummary): string {
  const table = (title: string, rows: ProfileRow[]) =>
    [
      title,
      ...rows.map(
        (r, i) =>
          `  ${String(i + 1).padStart(2)}. ${r.percent.toFixed(1).padStart(5)}%  ${(r.ms / 1000).toFixed(2).padStart(7)} s  ${r.name}${r.where ? `  (${r.where})` : ''}`,
      ),
    ].join('\n');
  return [
    `main-thread profile: ${(s.totalMs / 1000).toFixed(1)} s, ${s.samples.toLocaleString('en-US')} samples`,
    table(`top ${s.self.length} by self time:`, s.self),
    table(`top ${s.inclusive.length} by inclusive time (JavaScript frames):`, s.inclusive),
    table('self time by file:', s.files),
  ].join('\n\n');
}
