import { dirName } from '../dma/index.ts';
import { dmaBufKernelRefs, dmaBufOfFile, dmaHeaps, isDmaBufFile, type DmaBuf, type DmaBufRefKind, type DmaBufSystem } from '../dmabuf/index.ts';
import { registerSeqFile, type File, type SeqFileNode } from '../fs/index.ts';
import type { ProcKernel } from './kernel.ts';

/**
 * One reference held on a dma-buf, with the call site and simulated time
 * that took it:
 * - `fd`: an fd of a process (`pid`, `fd`);
 * - `mapping`: a process's CPU mapping of it (`pid`, `start`, `end`);
 * - `in-flight`: an SCM_RIGHTS message queued on a unix socket, not yet received;
 * - `attachment`: a device attached to it (`device`, `mapped`, `direction`);
 * - a kernel reference (DmaBufRefKind): a videobuf2 queue slot, a GEM
 *   import or handle, a KMS framebuffer, a pending flip, the scanout, a
 *   device job, a poll callback.
 */
export interface DmaBufReference {
  kind: 'fd' | 'mapping' | 'in-flight' | 'attachment' | DmaBufRefKind;
  /** Who holds it, as a person reads it: `player (pid 2) fd 5`, `framebuffer 36 of display-kms`. */
  holder: string;
  /** The call that took it: `thread: call › kernel function @ scenario line`, as cost sites read. */
  site: string;
  /** Simulated ns when it was taken. */
  timeNs: number;
  pid?: number;
  fd?: number;
  start?: number;
  end?: number;
  device?: string;
  mapped?: boolean;
  /** The DMA direction of the attachment's mappings (`DMA_BIDIRECTIONAL`, ...), `none` when not mapped. */
  direction?: string;
  /** For a kernel reference held through another object (a framebuffer's GEM object): that object. */
  via?: string;
}

/** One live dma-buf and every reference held on it. */
export interface DmaBufReport {
  ino: number;
  name: string | null;
  size: number;
  /** exp_name: the heap or driver that exported it. */
  exporter: string;
  /** Who made it: a driver, or `comm[pid]` for a heap allocation. */
  creator: string;
  /** The dma-heap it came from, or null when a driver exported it. */
  heap: string | null;
  /** Where its bytes live, as its exporter says: contiguous or how many runs, where, the CPU memory type. */
  placement: string;
  /**
   * References on its file (file_count): one for each of its fds,
   * mappings, messages in flight and kernel references without `via`
   * (attachments and references held through another object take none).
   */
  fileRefs: number;
  /** Every reference, oldest first. */
  refs: DmaBufReference[];
}

/** One process's row of dmabuf_dump: the buffers it holds by fd or mapping, and its share of their size. */
export interface DmaBufProcessUse {
  pid: number;
  comm: string;
  /** Per buffer: fd and mapping references, and the process's share of the size (size / processes holding it). */
  buffers: { ino: number; fdRefs: number; mapRefs: number; pssBytes: number }[];
  /** Sum of the sizes of the buffers it holds (dmabuf_dump's Rss). */
  rssBytes: number;
  /** Sum of its shares (dmabuf_dump's Pss). */
  pssBytes: number;
}

/** Every live dma-buf with its references, and the buffer x process table of dmabuf_dump -a, at one moment. */
export interface DmaBufSnapshot {
  /** Simulated ns of the snapshot. */
  atNs: number;
  buffers: DmaBufReport[];
  processes: DmaBufProcessUse[];
  totals: {
    bytes: number;
    /** Bytes of buffers no process holds by fd or mapping: only the kernel keeps them (dmabuf_dump's kernel_rss). */
    kernelOnlyBytes: number;
    userspaceRssBytes: number;
    userspacePssBytes: number;
  };
}

/** Where a buffer's bytes live, as its exporter describes them. */
function placementOf(d: DmaBuf): string {
  const st = d.ops.describe?.(d);
  if (!st) return 'not described by its exporter';
  if (!st.allocated) return 'not allocated yet';
  return `${st.contiguous ? 'contiguous' : `${st.runs} runs`}, ${st.source}, ${st.memType}`;
}

/** The references processes and messages in flight hold, by buffer. */
function userRefs(k: ProcKernel): Map<DmaBuf, DmaBufReference[]> {
  const by = new Map<DmaBuf, DmaBufReference[]>();
  const add = (f: File, r: DmaBufReference) => {
    const d = dmaBufOfFile(f);
    let l = by.get(d);
    if (!l) by.set(d, (l = []));
    l.push(r);
  };
  const pids = [...k.processes.keys()].sort((a, b) => a - b);
  for (const pid of pids) {
    const p = k.processes.get(pid)!;
    const who = `${p.comm} (pid ${p.pid})`;
    for (const fd of p.files.fds()) {
      const f = p.files.peek(fd);
      if (!f || !isDmaBufFile(f)) continue;
      const o = p.files.origin(fd);
      add(f, { kind: 'fd', holder: `${who} fd ${fd}`, site: o?.site ?? '', timeNs: o?.timeNs ?? 0, pid: p.pid, fd });
    }
    for (const v of p.mm.areas) {
      if (!v.file || !isDmaBufFile(v.file)) continue;
      const range = `0x${v.start.toString(16)}-0x${v.end.toString(16)}`;
      add(v.file, { kind: 'mapping', holder: `${who} mapping ${range}`, site: v.site ? k.soc.costs.siteText(v.site) : '', timeNs: v.since, pid: p.pid, start: v.start, end: v.end });
    }
  }
  for (const m of k.sockets.filesInFlightWithOrigin()) {
    if (isDmaBufFile(m.file)) add(m.file, { kind: 'in-flight', holder: 'an SCM_RIGHTS message queued on a unix socket', site: m.site, timeNs: m.timeNs });
  }
  return by;
}

/**
 * Every live dma-buf with every reference held on it -- fds, mappings,
 * messages in flight, device attachments and the kernel's own references
 * -- each with its call site and time, plus dmabuf_dump -a's buffer x
 * process table (fd and mapping references, and each process's share of
 * each buffer's size). Only reads state.
 */
export function dmaBufSnapshot(k: ProcKernel, dbs: DmaBufSystem): DmaBufSnapshot {
  const ledger = dbs.soc.costs;
  const heaps = dmaHeaps(dbs);
  const user = userRefs(k);
  const buffers = dbs.buffers.map((d): DmaBufReport => {
    const refs: DmaBufReference[] = [...(user.get(d) ?? [])];
    for (const a of d.attachments) {
      const dirs = [...new Set(a.mappings.map((m) => dirName(m.dir)))];
      refs.push({
        kind: 'attachment',
        holder: `device ${a.dev.name} (${a.mappings.length > 0 ? `mapped ${dirs.join(', ')}` : 'attached, not mapped'})`,
        site: ledger.siteText(a.site),
        timeNs: a.since,
        device: a.dev.name,
        mapped: a.mappings.length > 0,
        direction: dirs.length > 0 ? dirs.join(', ') : 'none',
      });
    }
    for (const r of dmaBufKernelRefs(d)) refs.push({ ...r });
    refs.sort((a, b) => a.timeNs - b.timeNs);
    return {
      ino: d.ino,
      name: d.name,
      size: d.size,
      exporter: d.expName,
      creator: d.creator,
      heap: heaps.has(d.expName) ? d.expName : null,
      placement: placementOf(d),
      fileRefs: d.file.count,
      refs,
    };
  });
  // dmabuf_dump: a process holds a buffer when it has an fd or a mapping of it; its share is size / holders
  const holders = new Map<number, Set<number>>();
  for (const b of buffers) holders.set(b.ino, new Set(b.refs.flatMap((r) => (r.pid !== undefined ? [r.pid] : []))));
  const procs = new Map<number, DmaBufProcessUse>();
  let kernelOnlyBytes = 0;
  for (const b of buffers) {
    const pids = holders.get(b.ino)!;
    if (pids.size === 0) kernelOnlyBytes += b.size;
    for (const pid of [...pids].sort((x, y) => x - y)) {
      let u = procs.get(pid);
      if (!u) procs.set(pid, (u = { pid, comm: k.processes.get(pid)?.comm ?? 'N/A', buffers: [], rssBytes: 0, pssBytes: 0 }));
      const pss = Math.floor(b.size / pids.size);
      u.buffers.push({
        ino: b.ino,
        fdRefs: b.refs.filter((r) => r.kind === 'fd' && r.pid === pid).length,
        mapRefs: b.refs.filter((r) => r.kind === 'mapping' && r.pid === pid).length,
        pssBytes: pss,
      });
      u.rssBytes += b.size;
      u.pssBytes += pss;
    }
  }
  const processes = [...procs.values()].sort((a, b) => a.pid - b.pid);
  return {
    atNs: dbs.clock.now,
    buffers,
    processes,
    totals: {
      bytes: buffers.reduce((n, b) => n + b.size, 0),
      kernelOnlyBytes,
      userspaceRssBytes: processes.reduce((n, p) => n + p.rssBytes, 0),
      userspacePssBytes: processes.reduce((n, p) => n + p.pssBytes, 0),
    },
  };
}

/**
 * The text of /sys/kernel/debug/dma_buf/refs (unimem's, beside bufinfo):
 * each live buffer's line as bufinfo names it (size, exp_name, ino, name)
 * with its heap, placement and file count, then one line per reference:
 * kind, simulated ns it was taken, holder, and call site, tab separated.
 */
export function dmaBufRefsText(snap: DmaBufSnapshot): string {
  let s = '\nDma-buf references:\n';
  for (const b of snap.buffers) {
    s += `${b.size}\t${b.exporter}\t${b.ino}\t${b.name ?? '<none>'}\theap:${b.heap ?? '-'}\tcount:${b.fileRefs}\t${b.placement}\n`;
    for (const r of b.refs) s += `\t${r.kind}\t${r.timeNs}\t${r.holder}${r.via ? ` (through ${r.via})` : ''}\t${r.site || '?'}\n`;
    s += `Total ${b.refs.length} references\n\n`;
  }
  s += `\nTotal ${snap.buffers.length} objects, ${snap.totals.bytes} bytes\n`;
  return s;
}

/**
 * dmabuf_dump -a's table: one row per buffer (inode, size, how many
 * processes hold it by fd and by mapping), one column per process with its
 * "fds(maps) refs", and each process's total in kB.
 */
export function dmabufDumpTable(snap: DmaBufSnapshot): string {
  const procs = snap.processes;
  let s = '    Dmabuf Inode |            Size |   Fd Ref Counts |  Map Ref Counts |';
  for (const p of procs) s += `${p.comm.padStart(16)}:${String(p.pid).padEnd(5)} |`;
  s += '\n';
  for (const b of snap.buffers) {
    const fdPids = new Set(b.refs.filter((r) => r.kind === 'fd').map((r) => r.pid));
    const mapPids = new Set(b.refs.filter((r) => r.kind === 'mapping').map((r) => r.pid));
    s += `${String(b.ino).padStart(16)} |${String(Math.floor(b.size / 1024)).padStart(13)} kB |${String(fdPids.size).padStart(16)} |${String(mapPids.size).padStart(16)} |`;
    for (const p of procs) {
      const u = p.buffers.find((x) => x.ino === b.ino);
      s += u ? `${String(u.fdRefs).padStart(9)}(${String(u.mapRefs).padStart(6)}) refs |` : `${'--'.padStart(22)} |`;
    }
    s += '\n';
  }
  s += '------------------------------------\n';
  s += `${'TOTALS'.padEnd(16)}  ${String(Math.floor(snap.totals.bytes / 1024)).padStart(13)} kB |${'n/a'.padStart(16)} |${'n/a'.padStart(16)} |`;
  for (const p of procs) s += `${String(Math.floor(p.rssBytes / 1024)).padStart(19)} kB |`;
  return s + '\n';
}

/**
 * Registers /sys/kernel/debug/dma_buf/refs: every live buffer with every
 * reference on it and the call that took it, for a program to read (the
 * debugfs file unimem adds beside bufinfo; Linux has none, and its
 * dmabuf_dump pieces the fd and mapping part together from /proc).
 */
export function registerDmaBufRefsDebugfs(k: ProcKernel, dbs: DmaBufSystem): SeqFileNode {
  return registerSeqFile(k.vfs, '/sys/kernel/debug/dma_buf/refs', () => dmaBufRefsText(dmaBufSnapshot(k, dbs)));
}
