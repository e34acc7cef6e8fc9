import type { BufferNode, IovaSpace, MemoryMap } from './report-data.ts';

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
function clip(s: string, n: number): string {
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

/**
 * The buffer graph as SVG: processes holding fds on the left, dma-bufs
 * (with exporter, size and storage) in the middle, attached devices on the
 * right; an edge per fd and per attachment, solid when mapped.
 */
export function bufferGraphSvg(buffers: readonly BufferNode[], colors: Colors): string {
  if (buffers.length === 0) return '<p class="note">No dma-buf was live at the snapshot.</p>';
  const procs = [...new Map(buffers.flatMap((b) => b.holders.map((h) => [h.pid, h.comm] as const))).entries()];
  const devs = [...new Set(buffers.flatMap((b) => b.attachments.map((a) => a.device)))];
  const rowH = 64;
  const top = 40;
  const rows = Math.max(procs.length, buffers.length, devs.length);
  const height = top + rows * rowH + 10;
  const colX = [20, 330, 720];
  const nodeW = [180, 300, 200];
  const yOf = (i: number, n: number) => top + ((rows - n) * rowH) / 2 + i * rowH;
  const parts: string[] = [];
  const heads = ['processes (fds)', 'dma-bufs (exporter)', 'devices (attachments)'];
  heads.forEach((t, i) => parts.push(`<text x="${colX[i]}" y="20" class="col-title">${t}</text>`));
  const bufY = new Map<number, number>();
  buffers.forEach((b, i) => bufY.set(b.ino, yOf(i, buffers.length)));
  const procY = new Map<number, number>();
  procs.forEach(([pid], i) => procY.set(pid, yOf(i, procs.length)));
  const devY = new Map<string, number>();
  devs.forEach((d, i) => devY.set(d, yOf(i, devs.length)));
  for (const b of buffers) {
    const by = bufY.get(b.ino)! + 24;
    for (const h of b.holders) {
      const py = procY.get(h.pid)! + 24;
      parts.push(`<path d="M${colX[0]! + nodeW[0]!},${py} C${colX[1]! - 60},${py} ${colX[0]! + nodeW[0]! + 60},${by} ${colX[1]},${by}" class="edge"><title>${esc(`pid ${h.pid} fd ${h.fd}`)}</title></path>`);
    }
    for (const a of b.attachments) {
      const dy = devY.get(a.device)! + 24;
      parts.push(`<path d="M${colX[1]! + nodeW[1]!},${by} C${colX[2]! - 60},${by} ${colX[1]! + nodeW[1]! + 60},${dy} ${colX[2]},${dy}" class="edge${a.mapped.length > 0 ? '' : ' unmapped'}"><title>${esc(`${a.device}: ${a.mapped.length > 0 ? 'mapped, ' + a.mapped.join('; ') : 'attached, not mapped'}`)}</title></path>`);
    }
  }
  if (procs.length === 0) parts.push(`<text x="${colX[0]}" y="${top + 24}" class="note-svg">no process holds an fd</text><text x="${colX[0]}" y="${top + 40}" class="note-svg">(the pipeline shares buffers in the kernel)</text>`);
  for (const [pid, comm] of procs) {
    const y = procY.get(pid)!;
    const fds = buffers.flatMap((b) => b.holders.filter((h) => h.pid === pid).map((h) => h.fd));
    parts.push(`<rect x="${colX[0]}" y="${y}" width="${nodeW[0]}" height="48" rx="6" class="node proc"/><text x="${colX[0]! + 8}" y="${y + 20}" class="node-title">${esc(`${comm} (pid ${pid})`)}</text><text x="${colX[0]! + 8}" y="${y + 38}" class="node-sub">${esc(`fds ${fds.join(', ')}`)}</text>`);
  }
  for (const b of buffers) {
    const y = bufY.get(b.ino)!;
    const label = `dma-buf ${b.ino} (${b.name || b.creator})`;
    parts.push(`<rect x="${colX[1]}" y="${y}" width="${nodeW[1]}" height="48" rx="6" class="node buf" style="stroke:${colors.of(label)}"/><text x="${colX[1]! + 8}" y="${y + 20}" class="node-title">${esc(`${label}, ${humanSize(b.size)}`)}</text><text x="${colX[1]! + 8}" y="${y + 38}" class="node-sub">${esc(clip(`exporter ${b.exporter}; ${b.storage}`, 46))}</text><title>${esc(`exporter ${b.exporter}, creator ${b.creator}; ${b.storage}`)}</title>`);
  }
  for (const d of devs) {
    const y = devY.get(d)!;
    const n = buffers.filter((b) => b.attachments.some((a) => a.device === d)).length;
    parts.push(`<rect x="${colX[2]}" y="${y}" width="${nodeW[2]}" height="48" rx="6" class="node dev"/><text x="${colX[2]! + 8}" y="${y + 20}" class="node-title">${esc(d)}</text><text x="${colX[2]! + 8}" y="${y + 38}" class="node-sub">${n} buffer(s) attached</text>`);
  }
  return `<svg class="graph" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="buffer graph">${parts.join('')}</svg>`;
}
