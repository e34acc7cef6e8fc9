import { dirName, sgTotalLength } from '../dma/index.ts';
import type { DmaBuf, DmaBufAttachment, DmaBufSystem } from './dma-buf.ts';
import { DmaResvUsage, dmaResvUsageName } from './dma-resv.ts';
import { dmaBufKernelRefs } from './dma-buf-refs.ts';

/** The FMODE_OPENED bit every opened file has; the fs layer does not track it, so the views add it. */
const FMODE_OPENED = 0x80000;

const pad8 = (s: string) => s.padEnd(8);
const dec8 = (n: number) => String(n).padStart(8, '0');
const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/**
 * The fences of the buffer one line each, as dma_resv_describe prints
 * them. A seq_file show must not sleep here, so the lock is only tried.
 */
function describeFences(d: DmaBuf): string {
  let s = '';
  // bufinfo lists signalled fences too, which only the locked walk sees; a
  // holder of the lock gets the unlocked walk of the pending ones instead.
  if (d.resv.trylock()) {
    try {
      s = d.resv.describe();
    } finally {
      d.resv.unlock();
    }
  } else {
    for (const { fence, usage } of d.resv.fencesUnlocked(DmaResvUsage.READ)) s += `\t${dmaResvUsageName(usage)} fence:${fence.describe()}`;
  }
  return s;
}

/**
 * The text of /sys/kernel/debug/dma_buf/bufinfo (dma_buf_debug_show), as
 * Linux 6.1 prints it: one line per buffer (size, f_flags, f_mode, file
 * count, exporter, inode, name), its fences, its attached devices, and the
 * totals.
 */
export function bufinfoText(system: DmaBufSystem): string {
  let s = '\nDma-buf Objects:\n';
  s += `${pad8('size')}\t${pad8('flags')}\t${pad8('mode')}\t${pad8('count')}\texp_name\t${pad8('ino')}\tname\n`;
  let count = 0;
  let size = 0;
  for (const d of system.buffers) {
    const f = d.file;
    s += `${dec8(d.size)}\t${hex8(f.flags)}\t${hex8(f.mode | FMODE_OPENED)}\t${dec8(f.count)}\t${d.expName}\t${dec8(d.ino)}\t${d.name ?? '<none>'}\n`;
    s += describeFences(d);
    s += '\tAttached Devices:\n';
    for (const a of d.attachments) s += `\t${a.dev.name}\n`;
    s += `Total ${d.attachments.length} devices attached\n\n`;
    count++;
    size += d.size;
  }
  s += `\nTotal ${count} objects, ${size} bytes\n`;
  return s;
}

function describeAttachment(a: DmaBufAttachment, now: number): string {
  const dev = a.dev;
  const kind = a.isDynamic ? 'dynamic' : 'static';
  const path = `${dev.ops.name} ops, ${dev.coherent ? 'coherent' : 'non-coherent'}, ${dev.dmaMaskBits}-bit mask${dev.iommu ? ', behind an IOMMU' : ''}`;
  let s = `    ${dev.name} (${kind} importer; ${path})${a.pins ? `, pinned x${a.pins}` : ''}\n`;
  if (a.mappings.length === 0) s += '      not mapped\n';
  for (const m of a.mappings) {
    const t = m.sgt;
    const segs: string[] = [];
    for (let i = 0; i < Math.min(t.nents, 4); i++) segs.push(`0x${t.sgl[i]!.dmaAddress.toString(16)}+0x${t.sgl[i]!.dmaLength.toString(16)}`);
    if (t.nents > 4) segs.push(`... ${t.nents - 4} more`);
    s +=
      `      mapped ${dirName(m.dir)}${a.sgt === t ? ' (cached until detach)' : ''} for ${now - m.since} ns: ` +
      `${t.origNents} page run(s), ${sgTotalLength(t)} bytes, ${t.nents} DMA segment(s) [${segs.join(', ')}]\n`;
  }
  return s;
}

/**
 * Everything the debug view knows about one buffer: bufinfo's columns plus
 * the metadata the 2010 Budapest summit listed (creator, attributes,
 * references, pins, CPU cache data, per-device mappings, sync data), the
 * kernel's own references with the calls that took them, and the
 * exporter's account of where the storage is and why.
 */
export function describeDmaBuf(d: DmaBuf): string {
  const f = d.file;
  const now = d.system.clock.now;
  const st = d.ops.describe?.(d);
  let s = `dma-buf ino ${d.ino} "${d.name ?? ''}": ${d.size} bytes, exp_name ${d.expName}, creator ${d.creator}, exported at ${d.exportedAt} ns\n`;
  s += `  file: flags 0${f.flags.toString(8)}, mode 0x${(f.mode | FMODE_OPENED).toString(16)}, ${f.count} reference(s)\n`;
  if (st) {
    s += `  attributes: sharable, ${st.contiguous ? 'contiguous' : `scattered (${st.runs} runs)`}, ${st.deviceLocal ? 'device-local' : 'system memory'}\n`;
    s += `  storage: ${st.allocated ? st.source : 'not allocated yet'}\n`;
    s += `  cpu cache: ${st.memType === 'wb' || st.memType === 'wt' ? `cacheable (${st.memType}); non-coherent devices need begin/end_cpu_access` : `non-cacheable (${st.memType})`}\n`;
    for (const n of st.notes ?? []) s += `  ${n}\n`;
  } else {
    s += '  attributes: sharable (the exporter does not describe its storage)\n';
  }
  s += `  pins: ${d.pinCount}, kernel vmap users: ${d.vmappingCounter}, live mappings: ${d.liveMappings}\n`;
  const fences = describeFences(d);
  s += fences ? `  sync:\n${fences.replace(/^\t/gm, '    ')}` : '  sync: no fences\n';
  s += `  attached devices (${d.attachments.length}):\n`;
  for (const a of d.attachments) s += describeAttachment(a, now);
  const refs = dmaBufKernelRefs(d);
  if (refs.length > 0) {
    s += `  kernel references (${refs.length}):\n`;
    for (const r of refs) s += `    ${r.kind}: ${r.holder}, taken by ${r.site || 'an unrecorded call'} at ${r.timeNs} ns\n`;
  }
  return s;
}

/** The whole debug view: every live buffer described, newest first, then totals. */
export function dmaBufDebugView(system: DmaBufSystem): string {
  let s = '';
  let size = 0;
  for (const d of system.buffers) {
    s += describeDmaBuf(d) + '\n';
    size += d.size;
  }
  s += `Total ${system.buffers.length} objects, ${size} bytes; ${system.stats.exported} exported, ${system.stats.released} released\n`;
  return s;
}
