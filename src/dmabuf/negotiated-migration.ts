import { waitEvent } from '../fs/index.ts';
import { PAGE_SIZE, kerr } from '../lib/index.ts';
import { dmaBufMoveNotify } from './dma-buf-attach.ts';
import type { DmaBufAttachment } from './dma-buf.ts';
import { MAX_SCHEDULE_TIMEOUT } from './dma-fence.ts';
import { DmaResvUsage } from './dma-resv.ts';
import type { NegotiatedBacking } from './negotiated-backing.ts';
import { allocateStorage, planPlacement, type Storage } from './negotiated-placement.ts';

/*
 * Moving a negotiated buffer's bytes once a stricter device attached (the
 * RFC's migration): dynamic importers are told to drop their mappings
 * (move_notify), static ones are waited for, then the buffer's fences,
 * then the bytes are copied into a new placement and CPU mappings zapped
 * so they fault in the new pages. The old storage lives on until its last
 * mapping is returned.
 */

let scratch = new Uint8Array(64 * 1024);

/** What keeps the storage from moving now, one reason per holder (pins, cached mappings, a vmap). */
export function storageBlockers(b: NegotiatedBacking): string[] {
  const out: string[] = [];
  for (const [att, n] of b.pins) {
    if (n <= 0) continue;
    out.push(
      att.isDynamic
        ? `${att.dev.name} pinned it (dma_buf_pin)`
        : `${att.dev.name} is a static importer of a dynamic exporter: its mapping was made and pinned at attach`,
    );
  }
  for (const att of b.dmabuf.attachments) {
    if (att.sgt && !b.pins.has(att)) out.push(`${att.dev.name} holds a mapping cached until detach`);
  }
  if (b.vmapCount > 0) out.push('the kernel holds a vmap of it');
  return out;
}

/**
 * Moves the bytes to a placement serving every attached device (the RFC's
 * migration, with dma_buf_move_notify for dynamic importers). `self` is
 * the attachment whose map asked: EDEADLK when it still holds a mapping
 * of the old storage itself; EBUSY when something pins the storage.
 */
export async function migrateStorage(b: NegotiatedBacking, who: string, self: DmaBufAttachment | null): Promise<void> {
  const old = b.storage!;
  const reason = b.pending!;
  const t0 = b.mm.soc.clock.now;
  const d = b.dmabuf;
  // dynamic importers drop their mappings now or once their fences signal
  if (b.maps.some((m) => m.storage === old && m.att.isDynamic)) {
    d.resv.assertHeld('negotiated move: move_notify');
    dmaBufMoveNotify(d);
  }
  const staticMaps = () => b.maps.filter((m) => m.storage === old && !m.att.isDynamic);
  if (self && staticMaps().some((m) => m.att === self)) {
    throw kerr('EDEADLK', `${self.dev.name} must unmap its own mapping before the storage can move (${reason})`);
  }
  const waitingFor = staticMaps().length;
  if (waitingFor > 0) {
    b.log(`move for ${who} waits for ${waitingFor} outstanding mapping(s): ${[...new Set(staticMaps().map((m) => m.att.dev.name))].join(', ')}`);
    await waitEvent(d.mapWq, () => staticMaps().length === 0);
  }
  const blockers = storageBlockers(b);
  if (blockers.length > 0) throw kerr('EBUSY', `the storage cannot move: ${blockers.join('; ')}`);
  await d.resv.waitTimeout(DmaResvUsage.BOOKKEEP, MAX_SCHEDULE_TIMEOUT);
  const c = b.collated();
  const plan = planPlacement(b, c);
  if (plan.kind === 'none') throw kerr('ENOMEM', plan.why);
  const next = await allocateStorage(b, c, plan);
  await copyStorage(b, old, next);
  b.storage = next;
  b.placementWhy = plan.why;
  b.pending = null;
  for (const v of b.vmas) v.zapPages();
  old.retired = true;
  if (old.maps === 0) b.freeStorage(old);
  else b.retiredStorages.add(old);
  b.migrations++;
  b.bytesMoved += b.size;
  b.log(
    `moved for ${who}: ${old.source} (${old.runs} run(s)) -> ${next.source} (${next.runs} run(s)); ${reason}; ` +
      `${plan.why}; took ${b.mm.soc.clock.now - t0} ns${waitingFor ? ` including the wait for ${waitingFor} mapping(s)` : ''}`,
  );
}

/** Copies the bytes as the CPU sees them (dirty lines included) and charges the copy's time. */
async function copyStorage(b: NegotiatedBacking, from: Storage, to: Storage): Promise<void> {
  const { cache } = b.mm.soc;
  const n = b.pages;
  let i = 0;
  while (i < n) {
    let k = 1;
    while (i + k < n && from.pfns[i + k] === from.pfns[i]! + k && to.pfns[i + k] === to.pfns[i]! + k) k++;
    const src = from.pfns[i]! * PAGE_SIZE;
    const dst = to.pfns[i]! * PAGE_SIZE;
    const len = k * PAGE_SIZE;
    for (let off = 0; off < len; off += scratch.length) {
      const m = Math.min(scratch.length, len - off);
      if (scratch.length < m) scratch = new Uint8Array(m);
      cache.snoopRead(src + off, scratch, 0, m);
      cache.snoopWrite(dst + off, scratch, 0, m);
    }
    i += k;
  }
  const cost = b.mm.migration.cost;
  await b.mm.soc.clock.sleep(cost.perPageNs * n + (2 * n * PAGE_SIZE) / cost.copyBytesPerNs);
}
