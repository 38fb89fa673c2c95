import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORTS } from '../../src/reports/definitions.js';
import { cliArgs as cli } from '../support/cli.js';
import { decodePng } from '../support/png.js';
import { reportLake } from '../support/report-lake.js';

/**
 * `auditlake report all --format html`: one self-contained file whose numbers match the lake, and
 * which headless Chromium renders (a screenshot with the charts in it) and prints to PDF.
 */

type Row = Record<string, unknown>;
const run = promisify(execFile);
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
let lake: Awaited<ReturnType<typeof reportLake>>;
let work: string;
let html: string;
const SINCE = '2024-05-01';
const UNTIL = '2024-05-05';

/** The body rows of one report's table, as arrays of cell text. */
function tableRows(name: string): string[][] {
  const table = new RegExp(`<table data-report="${name}">[\\s\\S]*?<tbody>([\\s\\S]*?)</tbody>`).exec(html);
  expect(table, name).not.toBeNull();
  const unescapeHtml = (s: string) =>
    s.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&');
  return [...table![1].matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => [...m[1].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => unescapeHtml(c[1])));
}

beforeAll(async () => {
  lake = await reportLake();
  work = await mkdtemp(join(tmpdir(), 'auditlake-html-'));
  const r = await cli([
    'report',
    'all',
    '--lake',
    lake.dir,
    '--format',
    'html',
    '--out',
    join(work, 'report.html'),
    '--since',
    SINCE,
    '--until',
    UNTIL,
  ]);
  expect(r.code, r.err).toBe(0);
  html = await readFile(join(work, 'report.html'), 'utf8');
}, 120_000);
afterAll(async () => {
  await lake.cleanup();
  await rm(work, { recursive: true, force: true });
});

describe('auditlake report all --format html', () => {
  const events = () => lake.events.filter((e) => String(e.event_date) >= SINCE && String(e.event_date) <= UNTIL);

  it('is one self-contained file: no script, no stylesheet, font or image to fetch', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(|\ssrc=/i);
    expect(html.replaceAll('http://www.w3.org/2000/svg', '')).not.toMatch(/https?:\/\//);
  });

  it('shows the period and totals that match the lake', () => {
    expect(html).toContain(`<strong data-period>${SINCE} to ${UNTIL}</strong>`);
    const total = (key: string) => Number(new RegExp(`data-total="${key}">(\\d+)<`).exec(html)?.[1]);
    expect(total('events')).toBe(events().length);
    expect(total('failed_logins')).toBe(events().filter((e) => e.event_class === 'AUTH_FAILURE').length);
    expect(total('days')).toBe(5);
  });

  it('has every report as a table whose rows match the lake', async () => {
    for (const r of REPORTS) {
      const json = await cli(['report', r.name, '--lake', lake.dir, '--format', 'json', '--since', SINCE, '--until', UNTIL]);
      const rows = JSON.parse(json.out) as Row[];
      expect(tableRows(r.name).length, r.name).toBe(rows.length);
      expect(html).toContain(`data-rows="${r.name}">${rows.length} row`);
    }
    const failures = events().filter((e) => e.event_class === 'AUTH_FAILURE');
    const fromHtml = tableRows('failed-logins').map(([user, addr, attempts]) => [user, addr, Number(attempts)]);
    const expected = [...new Set(failures.map((e) => `${e.db_user}|${e.client_addr}`))].map((k) => {
      const [user, addr] = k.split('|');
      return [user, addr, failures.filter((e) => e.db_user === user && e.client_addr === addr).length];
    });
    expect(fromHtml.sort()).toEqual(expected.sort());
    expect(tableRows('privilege-changes').map((r) => r[6])).toEqual([
      'GRANT pg_read_all_data TO carol',
      'ALTER ROLE carol CREATEROLE',
      'SET ROLE postgres',
    ]);
  });

  it('charts failed logins per day and events per day with the lake numbers', () => {
    for (const day of ['2024-05-01', '2024-05-02', '2024-05-03', '2024-05-04', '2024-05-05']) {
      const n = events().filter((e) => e.event_date === day && e.event_class === 'AUTH_FAILURE').length;
      expect(html).toContain(`<title>${day}: ${n}</title>`);
      const reads = events().filter((e) => e.event_date === day && e.event_class === 'READ').length;
      expect(html).toContain(`<title>${day} READ: ${reads}</title>`);
    }
    expect(html).toMatch(/<title>carol: \d+<\/title>/);
  });

  it.skipIf(!CHROMIUM && !process.env.CI)(
    'renders in headless Chromium: not blank, charts drawn, printable to PDF',
    async () => {
      if (!CHROMIUM) throw new Error('chromium is not installed (.ci/run installs it): the HTML report cannot be checked');
      const profile = await mkdtemp(join(tmpdir(), 'auditlake-chromium-'));
      const flags = [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        '--hide-scrollbars',
        '--window-size=1280,1600',
      ];
      const page = `file://${join(work, 'report.html')}`;
      try {
        await run(CHROMIUM, [...flags, `--screenshot=${join(work, 'report.png')}`, page], { timeout: 90_000 });
        await run(CHROMIUM, [...flags, '--no-pdf-header-footer', `--print-to-pdf=${join(work, 'report.pdf')}`, page], { timeout: 90_000 });
      } finally {
        await rm(profile, { recursive: true, force: true });
      }
      const { width, height, rgba } = decodePng(await readFile(join(work, 'report.png')));
      expect([width, height]).toEqual([1280, 1600]);
      let ink = 0;
      let red = 0;
      const colors = new Set<number>();
      for (let i = 0; i < rgba.length; i += 4) {
        const [r, g, b] = [rgba[i], rgba[i + 1], rgba[i + 2]];
        if (r < 240 || g < 240 || b < 240) ink++;
        // The failed-login bars (#e15759).
        if (Math.abs(r - 0xe1) < 6 && Math.abs(g - 0x57) < 6 && Math.abs(b - 0x59) < 6) red++;
        colors.add((r << 16) | (g << 8) | b);
      }
      expect(ink / (width * height)).toBeGreaterThan(0.03);
      expect(red).toBeGreaterThan(2000);
      expect(colors.size).toBeGreaterThan(50);
      const pdf = await readFile(join(work, 'report.pdf'));
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      expect(pdf.length).toBeGreaterThan(20_000);
    },
    200_000,
  );
});
