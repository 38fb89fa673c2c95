/**
 * Inline SVG charts for the HTML report: no script, no fonts or images to fetch, so the file reads the
 * same offline, in any browser and printed to PDF. Each bar carries a `<title>` with its exact value.
 */

/** Escapes text for HTML and SVG content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

/** One fixed colour per event class, so the same class looks the same in every report. */
export const CLASS_COLORS: Record<string, string> = {
  CONNECT: '#4e79a7',
  DISCONNECT: '#a0cbe8',
  AUTH_FAILURE: '#e15759',
  READ: '#59a14f',
  WRITE: '#f28e2b',
  DDL: '#b07aa1',
  ROLE: '#ff9da7',
  FUNCTION: '#9c755f',
  MISC: '#bab0ac',
  ERROR: '#76180e',
};
const FALLBACK_COLOR = '#79706e';

/** A round upper bound for an axis (1, 2, 5 times a power of ten). */
function niceMax(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

const WIDTH = 900;
const HEIGHT = 260;
const PAD = { left: 56, right: 12, top: 12, bottom: 44 };

/** Axis, grid lines and day labels shared by the per-day charts. */
function dayAxes(days: string[], max: number, label: string): string {
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const plotW = WIDTH - PAD.left - PAD.right;
  const parts: string[] = [];
  for (const f of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - f);
    parts.push(`<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${Math.round(max * f)}</text>`);
  }
  const every = Math.max(1, Math.ceil(days.length / 12));
  const slot = plotW / Math.max(1, days.length);
  days.forEach((day, i) => {
    if (i % every !== 0) return;
    const x = PAD.left + slot * (i + 0.5);
    parts.push(`<text x="${x}" y="${HEIGHT - PAD.bottom + 16}" text-anchor="middle" font-size="11">${escapeHtml(day.slice(5))}</text>`);
  });
  parts.push(
    `<text x="14" y="${PAD.top + plotH / 2}" transform="rotate(-90 14 ${PAD.top + plotH / 2})" text-anchor="middle" font-size="11">${escapeHtml(label)}</text>`,
  );
  return parts.join('');
}

function svg(title: string, body: string, height = HEIGHT): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="${escapeHtml(title)}" font-family="sans-serif">${body}</svg>`;
}

/** Stacked bars: events per day, one colour per event class. */
export function eventsPerDayChart(counts: { day: string; eventClass: string; events: number }[]): string {
  const days = [...new Set(counts.map((c) => c.day))].sort();
  const classes = [...new Set(counts.map((c) => c.eventClass))].sort();
  const totals = new Map<string, number>();
  for (const c of counts) totals.set(c.day, (totals.get(c.day) ?? 0) + c.events);
  const max = niceMax(Math.max(0, ...totals.values()));
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = (WIDTH - PAD.left - PAD.right) / Math.max(1, days.length);
  const bars: string[] = [];
  days.forEach((day, i) => {
    let y = PAD.top + plotH;
    for (const cls of classes) {
      const n = counts.find((c) => c.day === day && c.eventClass === cls)?.events ?? 0;
      if (n === 0) continue;
      const h = (n / max) * plotH;
      y -= h;
      const color = CLASS_COLORS[cls] ?? FALLBACK_COLOR;
      bars.push(
        `<rect x="${(PAD.left + slot * i + slot * 0.1).toFixed(1)}" y="${y.toFixed(1)}" width="${(slot * 0.8).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${escapeHtml(`${day} ${cls}: ${n}`)}</title></rect>`,
      );
    }
  });
  // The legend: five classes per line.
  const legend = classes
    .map((cls, i) => {
      const x = PAD.left + (i % 5) * 150;
      const y = HEIGHT + 4 + Math.floor(i / 5) * 18;
      return `<rect x="${x}" y="${y}" width="10" height="10" fill="${CLASS_COLORS[cls] ?? FALLBACK_COLOR}"/><text x="${x + 14}" y="${y + 9}" font-size="11">${escapeHtml(cls)}</text>`;
    })
    .join('');
  const legendHeight = Math.ceil(classes.length / 5) * 18 + 4;
  return svg('Events per day by class', dayAxes(days, max, 'events') + bars.join('') + legend, HEIGHT + legendHeight);
}

/** Bars: one value per day (failed logins). */
export function perDayChart(title: string, values: { day: string; value: number }[], color: string, label: string): string {
  const days = values.map((v) => v.day);
  const max = niceMax(Math.max(0, ...values.map((v) => v.value)));
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = (WIDTH - PAD.left - PAD.right) / Math.max(1, days.length);
  const bars = values
    .map((v, i) => {
      const h = (v.value / max) * plotH;
      return `<rect x="${(PAD.left + slot * i + slot * 0.1).toFixed(1)}" y="${(PAD.top + plotH - h).toFixed(1)}" width="${(slot * 0.8).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${escapeHtml(`${v.day}: ${v.value}`)}</title></rect>`;
    })
    .join('');
  return svg(title, dayAxes(days, max, label) + bars);
}

/** Horizontal bars: the users with the most events. */
export function topUsersChart(users: { user: string; events: number }[]): string {
  const rowH = 22;
  const height = Math.max(1, users.length) * rowH + 24;
  const left = 180;
  const max = niceMax(Math.max(0, ...users.map((u) => u.events)));
  const plotW = WIDTH - left - 60;
  const bars = users
    .map((u, i) => {
      const y = 8 + i * rowH;
      const w = (u.events / max) * plotW;
      return `<text x="${left - 8}" y="${y + 14}" text-anchor="end" font-size="12">${escapeHtml(u.user)}</text><rect x="${left}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="#4e79a7"><title>${escapeHtml(`${u.user}: ${u.events}`)}</title></rect><text x="${(left + w + 6).toFixed(1)}" y="${y + 14}" font-size="11">${u.events}</text>`;
    })
    .join('');
  return svg('Top users by events', bars, height);
}
