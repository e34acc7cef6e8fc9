import type { IovaSpace, MemoryMap } from './report-data.ts';

/** Escapes text for HTML and SVG. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Bytes as a short human size (B, KiB, MiB, GiB). */
export function humanSize(n: number): string {
  if (n >= 2 ** 30) return `${+(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${+(n / 2 ** 20).toFixed(2)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** `s` cut to `n` characters, with an ellipsis when cut. */
export function clip(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '\u2026';
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}

const FIXED: Record<string, string> = {
  kernel: '#8a8f98',
  reserved: '#3f3f46',
  'kernel-unmovable': '#a1a1aa',
  'page-cache': '#93c5fd',
  anon: '#bfdbfe',
  'CMA buffer': '#fb923c',
  'other mapping': '#a78bfa',
};
const PALETTE = ['#e11d48', '#16a34a', '#2563eb', '#d97706', '#0891b2', '#9333ea', '#65a30d', '#db2777', '#0d9488', '#ca8a04'];

/** Colours of owner labels: fixed ones for kernel kinds, a categorical palette for buffers in order of appearance. */
export class Colors {
  private readonly given = new Map<string, string>();

  /** The colour of `label`, assigned on first use. */
  of(label: string): string {
    const f = FIXED[label];
    if (f) return f;
    let c = this.given.get(label);
    if (!c) {
      c = PALETTE[this.given.size % PALETTE.length]!;
      this.given.set(label, c);
    }
    return c;
  }
}

const W = 960;
const BAR_X = 10;
const BAR_W = W - 20;

/**
 * One horizontal address bar as SVG: [start, end) drawn to scale, each
 * region a coloured rectangle (at least one pixel wide so that small ones
 * stay visible) with a tooltip, outlined spans (CMA areas) on top, and
 * address ticks below.
 */
export function addressBar(
  title: string,
  start: number,
  end: number,
  regions: readonly { start: number; size: number; label: string }[],
  colors: Colors,
  outlines: readonly { start: number; size: number; label: string }[] = [],
): string {
  const span = Math.max(1, end - start);
  const x = (a: number) => BAR_X + ((a - start) / span) * BAR_W;
  const y0 = 22;
  const h = 34;
  const parts: string[] = [];
  parts.push(`<text x="${BAR_X}" y="15" class="bar-title">${esc(title)}</text>`);
  parts.push(`<rect x="${BAR_X}" y="${y0}" width="${BAR_W}" height="${h}" class="free"><title>free</title></rect>`);
  for (const r of regions) {
    const a = Math.max(start, r.start);
    const b = Math.min(end, r.start + r.size);
    if (b <= a) continue;
    const w = Math.max(1, x(b) - x(a));
    parts.push(`<rect x="${x(a).toFixed(2)}" y="${y0}" width="${w.toFixed(2)}" height="${h}" fill="${colors.of(r.label)}"><title>${esc(`${r.label}: ${hex(r.start)}-${hex(r.start + r.size)} (${humanSize(r.size)})`)}</title></rect>`);
  }
  outlines.forEach((o, k) => {
    const a = Math.max(start, o.start);
    const b = Math.min(end, o.start + o.size);
    if (b <= a) return;
    parts.push(`<rect x="${x(a).toFixed(2)}" y="${y0 - 3}" width="${Math.max(2, x(b) - x(a)).toFixed(2)}" height="${h + 6}" class="outline"><title>${esc(`${o.label}: ${hex(o.start)}-${hex(o.start + o.size)} (${humanSize(o.size)})`)}</title></rect>`);
    // Labels alternate between two rows so that neighbouring areas stay readable.
    parts.push(`<text x="${Math.min(x(a), W - 160).toFixed(2)}" y="${y0 + h + 30 + (k % 2) * 13}" class="outline-label">${esc(o.label)}</text>`);
  });
  // Ticks on round addresses: a power-of-two step giving at most about six.
  const step = 2 ** Math.max(0, Math.ceil(Math.log2(span / 6)));
  for (let a = Math.ceil(start / step) * step; a <= end; a += step) {
    const tx = x(a);
    const anchor = tx < BAR_X + 40 ? 'start' : tx > BAR_X + BAR_W - 40 ? 'end' : 'middle';
    parts.push(`<line x1="${tx.toFixed(2)}" y1="${y0 + h}" x2="${tx.toFixed(2)}" y2="${y0 + h + 4}" class="tick"/>`);
    parts.push(`<text x="${tx.toFixed(2)}" y="${y0 + h + 15}" text-anchor="${anchor}" class="tick-label">${hex(a)}</text>`);
  }
  const height = y0 + h + (outlines.length > 1 ? 49 : outlines.length > 0 ? 36 : 20);
  return `<svg class="bar" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(title)}">${parts.join('')}</svg>`;
}

/** A legend table: colour, owner, bytes and number of runs, largest first. */
export function legend(regions: readonly { size: number; label: string }[], colors: Colors): string {
  const tot = new Map<string, { bytes: number; runs: number }>();
  for (const r of regions) {
    const t = tot.get(r.label) ?? { bytes: 0, runs: 0 };
    t.bytes += r.size;
    t.runs++;
    tot.set(r.label, t);
  }
  const rows = [...tot.entries()].sort((a, b) => b[1].bytes - a[1].bytes || a[0].localeCompare(b[0]));
  return (
    '<table class="legend"><thead><tr><th></th><th>owner</th><th>size</th><th>runs</th></tr></thead><tbody>' +
    rows.map(([l, t]) => `<tr><td><span class="swatch" style="background:${colors.of(l)}"></span></td><td>${esc(l)}</td><td>${humanSize(t.bytes)}</td><td>${t.runs}</td></tr>`).join('') +
    '</tbody></table>'
  );
}

/** The physical memory map: one bar per bank with CMA areas outlined, then each CMA area zoomed in, then the legend. */
export function memoryMapSvg(m: MemoryMap, colors: Colors): string {
  const regions = m.regions.map((r) => ({ start: r.base, size: r.size, label: r.owner }));
  const out: string[] = [];
  for (const b of m.banks) {
    const outlines = m.cma.filter((c) => c.base >= b.base && c.base < b.base + b.size).map((c) => ({ start: c.base, size: c.size, label: `CMA ${c.name}` }));
    out.push(addressBar(`${b.name} (${b.kind}, ${humanSize(b.size)} at ${hex(b.base)})`, b.base, b.base + b.size, regions, colors, outlines));
  }
  for (const c of m.cma) {
    const who = c.devices.length > 0 ? `for ${c.devices.join(', ')}` : 'default area';
    out.push(addressBar(`CMA area ${c.name} (${who}): ${humanSize(c.usedBytes)} of ${humanSize(c.size)} in CMA buffers, ${humanSize(c.borrowedBytes)} lent to movable pages`, c.base, c.base + c.size, regions, colors));
  }
  out.push(legend(regions, colors));
  return out.join('\n');
}

/** Each device's IOVA space, zoomed to the span its ranges use, with the aperture and totals in the title. */
export function iovaSvg(spaces: readonly IovaSpace[], colors: Colors): string {
  if (spaces.length === 0) return '<p class="note">No device sits behind an IOMMU on this platform.</p>';
  const out: string[] = [];
  for (const s of spaces) {
    const used = s.ranges.reduce((a, r) => a + r.size, 0);
    if (s.ranges.length === 0) {
      out.push(`<p class="note">${esc(s.device)} (${esc(s.domain)}): no IOVA allocated.</p>`);
      continue;
    }
    const MiB = 2 ** 20;
    const lo = Math.max(s.apertureStart, Math.floor(s.ranges[0]!.start / MiB) * MiB);
    const last = s.ranges[s.ranges.length - 1]!;
    const hi = Math.min(s.apertureEnd + 1, Math.ceil((last.start + last.size) / MiB) * MiB);
    const regions = s.ranges.map((r) => ({ start: r.start, size: r.size, label: r.owner }));
    out.push(addressBar(`${s.device} (domain ${s.domain}, aperture ${hex(s.apertureStart)}-${hex(s.apertureEnd)}): ${s.ranges.length} IOVA range(s), ${humanSize(used)}`, lo, hi, regions, colors));
  }
  return out.join('\n');
}
