import { Graph, layout, type EdgeLabel, type GraphLabel, type NodeLabel, type Point } from '@dagrejs/dagre';
import type { BufferNode, ProcessNode } from './report-data.ts';
import { clip, type Colors, esc, humanSize } from './svg.ts';

/** A node to draw: its id, kind, two lines of text and a tooltip. */
interface GraphNode {
  id: string;
  kind: 'proc' | 'handle' | 'kref' | 'buf' | 'dev';
  title: string;
  sub: string;
  tip: string;
  width: number;
  /** Stroke colour, for buffers (one colour per buffer across the report). */
  stroke?: string;
  /** data-* attributes tests and scripts can find the node by. */
  data: Record<string, string | number>;
}

/** An edge to draw: dashed when `dashed`, with a tooltip. */
interface GraphEdge {
  from: string;
  to: string;
  tip: string;
  dashed?: boolean;
}

const NODE_H = 46;

/** The label the report gives a buffer everywhere (maps, legends, graph). */
export function bufferLabel(b: Pick<BufferNode, 'ino' | 'name' | 'creator'>): string {
  return `dma-buf ${b.ino} (${b.name || b.creator})`;
}

/** The nodes and edges: every process, each process's handles on a buffer (fds and mappings), the buffers, the devices attached. */
function graphOf(buffers: readonly BufferNode[], processes: readonly ProcessNode[], colors: Colors): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  // Holders may include a process the list missed (a capture from before processes were listed): show them too.
  const procs = new Map(processes.map((p) => [p.pid, p.comm]));
  for (const b of buffers) for (const h of [...b.holders, ...b.mappings]) if (!procs.has(h.pid)) procs.set(h.pid, h.comm);
  for (const [pid, comm] of [...procs.entries()].sort((a, b) => a[0] - b[0])) {
    const fds = buffers.reduce((n, b) => n + b.holders.filter((h) => h.pid === pid).length, 0);
    const maps = buffers.reduce((n, b) => n + b.mappings.filter((m) => m.pid === pid).length, 0);
    const sub = fds + maps === 0 ? 'holds no dma-buf' : `${fds} dma-buf fd(s), ${maps} mapping(s)`;
    nodes.push({ id: `p${pid}`, kind: 'proc', title: `${comm} (pid ${pid})`, sub, tip: `process ${pid} (${comm}): ${sub}`, width: 190, data: { pid } });
  }
  for (const b of buffers) {
    const label = bufferLabel(b);
    nodes.push({ id: `b${b.ino}`, kind: 'buf', title: clip(`${label}, ${humanSize(b.size)}`, 44), sub: clip(`exporter ${b.exporter}; ${b.storage}`, 46), tip: `${label}, ${humanSize(b.size)}: exporter ${b.exporter}, creator ${b.creator}; ${b.storage}`, width: 300, stroke: colors.of(label), data: { ino: b.ino } });
    for (const pid of [...new Set([...b.holders, ...b.mappings].map((h) => h.pid))].sort((x, y) => x - y)) {
      const fds = b.holders.filter((h) => h.pid === pid).map((h) => h.fd);
      const maps = b.mappings.filter((m) => m.pid === pid);
      const id = `h${pid}_${b.ino}`;
      const title = fds.length > 0 ? `fd ${fds.join(', ')}` : 'no fd';
      const sub = maps.length > 0 ? maps.map((m) => `mmap 0x${m.start.toString(16)}`).join(', ') : 'not mapped';
      const tip = `pid ${pid} on ${label}: ${fds.length > 0 ? `fd ${fds.join(', ')}` : 'no fd (mapping only)'}; ${maps.length > 0 ? maps.map((m) => `mapped at 0x${m.start.toString(16)}, ${humanSize(m.length)}`).join('; ') : 'not mapped by the CPU'}`;
      nodes.push({ id, kind: 'handle', title, sub: clip(sub, 26), tip, width: 170, data: { pid, ino: b.ino } });
      edges.push({ from: `p${pid}`, to: id, tip: `process ${pid}` }, { from: id, to: `b${b.ino}`, tip });
    }
    // The kernel's own references, one node per buffer: what each is and the call that took it.
    const krefs = b.kernelRefs ?? [];
    if (krefs.length > 0) {
      const id = `k${b.ino}`;
      const counts = new Map<string, number>();
      for (const r of krefs) counts.set(r.kind, (counts.get(r.kind) ?? 0) + 1);
      const sub = [...counts].map(([k, n]) => (n > 1 ? `${k} x${n}` : k)).join(', ');
      const tip = `kernel references on ${label}:\n${krefs.map((r) => `${r.kind}: ${r.holder}, taken by ${r.site || 'an unrecorded call'} at ${(r.timeNs / 1e6).toFixed(3)} ms`).join('\n')}`;
      nodes.push({ id, kind: 'kref', title: `kernel: ${krefs.length} reference(s)`, sub: clip(sub, 34), tip, width: 220, data: { ino: b.ino, krefs: krefs.length } });
      edges.push({ from: id, to: `b${b.ino}`, tip });
    }
  }
  const devs = [...new Set(buffers.flatMap((b) => b.attachments.map((a) => a.device)))];
  for (const d of devs) {
    const n = buffers.filter((b) => b.attachments.some((a) => a.device === d)).length;
    nodes.push({ id: `d${d}`, kind: 'dev', title: d, sub: `${n} buffer(s) attached`, tip: `device ${d}: ${n} buffer(s) attached`, width: 180, data: { device: d } });
  }
  for (const b of buffers) {
    for (const a of b.attachments) {
      const mapped = a.mapped.length > 0;
      edges.push({ from: `b${b.ino}`, to: `d${a.device}`, dashed: !mapped, tip: `${bufferLabel(b)} -> ${a.device}: ${mapped ? 'mapped, ' + a.mapped.join('; ') : 'attached, not mapped'}` });
    }
  }
  return { nodes, edges };
}

/** A path through the points, each leg a cubic that leaves and arrives level (edges read left to right). */
function smoothPath(pts: readonly Point[]): string {
  const f = (n: number) => n.toFixed(1);
  let d = `M${f(pts[0]!.x)},${f(pts[0]!.y)}`;
  for (let k = 1; k < pts.length; k++) {
    const p = pts[k - 1]!;
    const q = pts[k]!;
    const mx = (p.x + q.x) / 2;
    d += ` C${f(mx)},${f(p.y)} ${f(mx)},${f(q.y)} ${f(q.x)},${f(q.y)}`;
  }
  return d;
}

/**
 * The buffer graph as SVG, laid out by dagre (layered, left to right):
 * every process, its handles on each dma-buf (the fds it holds and where
 * it mapped the buffer), the kernel's own references on each buffer (one
 * node per buffer, each reference's holder and call site in its tooltip),
 * the dma-bufs with exporter, size and storage,
 * and the devices attached; an edge per holder and per attachment, solid
 * when mapped for DMA, dashed when only attached.
 */
export function bufferGraphSvg(buffers: readonly BufferNode[], processes: readonly ProcessNode[], colors: Colors): string {
  if (buffers.length === 0 && processes.length === 0) return '<p class="note empty-reason" data-chart="graph">No process and no dma-buf was live at the snapshot.</p>';
  const { nodes, edges } = graphOf(buffers, processes, colors);
  const g = new Graph<GraphLabel, NodeLabel, EdgeLabel>({ multigraph: true });
  g.setGraph({ rankdir: 'LR', nodesep: 12, ranksep: 56, edgesep: 8, marginx: 8, marginy: 8 });
  for (const n of nodes) g.setNode(n.id, { width: n.width, height: NODE_H });
  edges.forEach((e, i) => g.setEdge(e.from, e.to, {}, `e${i}`));
  layout(g);
  const size = g.graph();
  const width = Math.ceil(size.width ?? 0);
  const height = Math.ceil(size.height ?? 0);
  const parts: string[] = [];
  const widthOf = new Map(nodes.map((n) => [n.id, n.width]));
  edges.forEach((e, i) => {
    const pts: Point[] = [...(g.edge({ v: e.from, w: e.to, name: `e${i}` })?.points ?? [])];
    if (pts.length < 2) return;
    // From the middle of the source's right side to the middle of the target's left side, through dagre's bends.
    const a = g.node(e.from);
    const b = g.node(e.to);
    pts[0] = { x: (a.x ?? 0) + widthOf.get(e.from)! / 2, y: a.y ?? 0 };
    pts[pts.length - 1] = { x: (b.x ?? 0) - widthOf.get(e.to)! / 2, y: b.y ?? 0 };
    parts.push(`<path d="${smoothPath(pts)}" class="edge${e.dashed ? ' unmapped' : ''}"><title>${esc(e.tip)}</title></path>`);
  });
  for (const n of nodes) {
    const { x = 0, y = 0 } = g.node(n.id);
    const left = x - n.width / 2;
    const top = y - NODE_H / 2;
    const data = Object.entries(n.data).map(([k, v]) => ` data-${k}="${esc(String(v))}"`).join('');
    const style = n.stroke ? ` style="stroke:${n.stroke}"` : '';
    parts.push(
      `<g class="node-${n.kind}"${data}><rect x="${left.toFixed(1)}" y="${top.toFixed(1)}" width="${n.width}" height="${NODE_H}" rx="6" class="node ${n.kind}"${style}/>` +
        `<text x="${(left + 8).toFixed(1)}" y="${(top + 19).toFixed(1)}" class="node-title">${esc(n.title)}</text>` +
        `<text x="${(left + 8).toFixed(1)}" y="${(top + 36).toFixed(1)}" class="node-sub">${esc(n.sub)}</text><title>${esc(n.tip)}</title></g>`,
    );
  }
  const note = buffers.length === 0 ? '<p class="note empty-reason" data-chart="graph">No dma-buf was live at the snapshot: the processes are shown alone.</p>\n' : processes.length === 0 && nodes.every((n) => n.kind !== 'proc') ? '<p class="note">No process holds a buffer: this pipeline shares its buffers inside the kernel.</p>\n' : '';
  return `${note}<svg class="graph" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="buffer graph">${parts.join('')}</svg>`;
}
