import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { unimem } from './run-cli.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

async function reportOf(args: string[]): Promise<{ code: number; file: string; stdout: string; stderr: string }> {
  const file = join(mkdtempSync(join(tmpdir(), 'unimem-report-')), 'out.html');
  const r = await unimem([...args, '--report', file]);
  return { code: r.code, file, stdout: r.stdout, stderr: r.stderr };
}

describe('unimem run/check --report', () => {
  it('run writes the HTML report and still prints its summary; check writes it and keeps its exit code', async () => {
    const run = await reportOf(['run', 'camera-preview', '--frames', '4']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('integrity');
    // Where the report went, on stderr (stdout is the summary, or with --json the one JSON object).
    expect(run.stderr).toContain(`unimem: report written to ${run.file}\n`);
    expect(run.stdout).not.toContain('written to');
    expect(readFileSync(run.file, 'utf8')).toContain('<title>unimem report: camera-preview on armv7-mobile</title>');
    // With --json, stdout is still one JSON object and nothing else.
    const json = await reportOf(['run', 'camera-preview', '--frames', '2', '--json']);
    expect(JSON.parse(json.stdout).scenario).toBe('camera-preview');
    expect(json.stderr).toBe(`unimem: report written to ${json.file}\n`);
    const check = await reportOf(['check', 'missing-sync', '--frames', '4']);
    expect(check.code).toBe(1);
    const html = readFileSync(check.file, 'utf8');
    expect(html).toContain('<h2>Findings</h2>');
    expect(html).not.toContain('No findings.');
  });

  // Debian's chromium package; .ci/run installs it. Skipped only where it is absent.
  it.skipIf(!existsSync(CHROMIUM))('renders in headless Chromium: every plot drawn with data, maps and graph sized, nothing fetched', async () => {
    const { chromium } = await import('playwright-core');
    const { file } = await reportOf(['run', 'overlay', '--frames', '12']);
    const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'unimem-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1050, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await ctx.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('request', (r) => requests.push(r.url()));
      await page.goto('file://' + file);
      await page.waitForSelector('#plot-latency[data-rendered="1"]');
      // Charts with nothing to draw say why, in place of the chart.
      const empty = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>('.plot-empty')].map((el) => [el.id, el.querySelector('.empty-reason')?.textContent ?? '']));
      for (const [, why] of empty) expect(why!.length).toBeGreaterThan(10);
      const plots = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('.plot')].map((el) => {
          const cv = el.querySelector('canvas');
          const box = el.getBoundingClientRect();
          return { id: el.id, points: Number(el.dataset.points), canvas: cv ? [cv.width, cv.height] : null, title: el.querySelector('.chart-title')?.textContent ?? '', axes: el.querySelectorAll('.u-label').length, box: [box.width, box.height] };
        }),
      );
      // overlay on armv7-mobile moves bytes, maintains the cache, walks the SMMU, allocates CMA and shows frames: those charts all draw.
      const ids = plots.map((p) => p.id);
      for (const id of ['plot-bandwidth', 'plot-cache', 'plot-smmu', 'plot-cma', 'plot-latency']) expect(ids).toContain(id);
      expect([...ids, ...empty.map(([id]) => id)].sort()).toEqual(['plot-bandwidth', 'plot-cache', 'plot-cma', 'plot-cpu', 'plot-latency', 'plot-smmu']);
      // Each drawn chart names its series in a legend that needs no cursor.
      const legends = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>('.plot .legend')].map((el) => el.querySelectorAll('.legend-item').length));
      for (const n of legends) expect(n).toBeGreaterThan(0);
      for (const p of plots) {
        expect(p.canvas![0]).toBeGreaterThan(0);
        expect(p.canvas![1]).toBeGreaterThan(0);
        expect(p.points).toBeGreaterThan(0);
        expect(p.title.length).toBeGreaterThan(0);
        expect(p.box[1]).toBeGreaterThan(100);
      }
      // Some pixels of the bandwidth plot are drawn in a series colour (not only axes and grid).
      const drawn = await page.evaluate(() => {
        const cv = document.querySelector<HTMLCanvasElement>('#plot-bandwidth canvas')!;
        const d = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 3]! > 0 && Math.abs(d[i]! - d[i + 1]!) > 60) n++;
        return n;
      });
      expect(drawn).toBeGreaterThan(100);
      const svgs = await page.evaluate(() => [...document.querySelectorAll('svg.bar, svg.graph')].map((s) => [s.getBoundingClientRect().width, s.getBoundingClientRect().height, s.querySelectorAll('rect').length]));
      expect(svgs.length).toBeGreaterThanOrEqual(4);
      for (const [w, h, rects] of svgs) {
        expect(w).toBeGreaterThan(0);
        expect(h).toBeGreaterThan(0);
        expect(rects).toBeGreaterThan(0);
      }
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
    } finally {
      await ctx.close();
    }
  }, 60_000);
});
