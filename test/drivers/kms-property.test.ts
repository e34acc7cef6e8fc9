import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KMS_CRTC_ID } from '../../src/drivers/gpu/drm/core/drm-simple-kms.ts';
import { registerKmsDisplay } from '../../src/drivers/gpu/drm/kms-display/display-kms.ts';
import {
  DRM_FORMAT_XRGB8888,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_PAGE_FLIP,
  DRM_IOCTL_MODE_RMFB,
  DRM_MODE_PAGE_FLIP_EVENT,
  O_NONBLOCK,
  O_RDWR,
} from '../../src/uapi/index.ts';
import { errno, run, testSystem } from '../dmabuf/helpers.ts';
import { dumb, mapDumb } from './vgem-helpers.ts';

const W = 32;
const H = 16;

type Op =
  | { k: 'create'; f: number }
  | { k: 'addfb'; f: number; b: number }
  | { k: 'rmfb'; f: number; i: number }
  | { k: 'flip'; i: number }
  | { k: 'gem-close'; f: number; b: number }
  | { k: 'wait'; ms: number }
  | { k: 'close'; f: number };

// indices pick among what exists (modulo), so most operations act on something
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('create' as const), f: fc.nat(1) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('addfb' as const), f: fc.nat(1), b: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('rmfb' as const), f: fc.nat(1), i: fc.nat(7) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('flip' as const), i: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('gem-close' as const), f: fc.nat(1), b: fc.nat(7) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('close' as const), f: fc.constant(1) }) },
);

let checked = 0;

describe('KMS framebuffer and flip lifetimes', () => {
  it('any sequence of dumb creates, ADDFB2, RMFB, flips, GEM closes and closes: the CRTC shows only live framebuffers, scanouts show their bytes, events match flips, nothing leaks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const s = testSystem();
        const { dev, kms } = registerKmsDisplay({ dbs: s.dbs, mm: s.mm, device: s.disp, index: 0, width: W, height: H });
        const free0 = s.mm.pages.freeCount();
        await run(s, async (sys) => {
          const files: (number | null)[] = [await sys.open('/dev/dri/card0', O_RDWR | O_NONBLOCK), await sys.open('/dev/dri/card0', O_RDWR)];
          const bos: { f: number; handle: number; tag: number; closed: boolean }[] = [];
          const tagOf = (f: number, handle: number) => bos.find((b) => b.f === f && b.handle === handle && !b.closed)?.tag;
          // framebuffer ids are reused once free, so each entry says whether it is still the live one
          const fbs: { f: number; id: number; tag: number; live: boolean }[] = [];
          const liveFb = (id: number) => fbs.find((x) => x.id === id && x.live);
          const flips = new Map<number, number>();
          let nextTag = 1;
          let events = 0;
          for (const o of ops) {
            switch (o.k) {
              case 'create': {
                const fd = files[o.f];
                if (fd === null || fd === undefined) break;
                const bo = await dumb(sys, fd, W, H);
                const m = await sys.mmap(0, bo.size, 3, 1, fd, await mapDumb(sys, fd, bo.handle));
                const tag = nextTag++;
                await sys.store(m, new Uint8Array(bo.size).fill(tag));
                bos.push({ f: o.f, handle: bo.handle, tag, closed: false });
                break;
              }
              case 'addfb': {
                const fd = files[o.f];
                const bo = bos[o.b % Math.max(1, bos.length)];
                if (fd === null || fd === undefined || !bo) break;
                const a = { fb_id: 0, width: W, height: H, pixel_format: DRM_FORMAT_XRGB8888, flags: 0, handles: [bo.handle, 0, 0, 0], pitches: [W * 4, 0, 0, 0], offsets: [0, 0, 0, 0], modifier: [0, 0, 0, 0] };
                const r = await errno(sys.ioctl(fd, DRM_IOCTL_MODE_ADDFB2, a));
                // handle numbers are per file: the same number may name another object here, or none
                const tag = tagOf(o.f, bo.handle);
                expect(r).toBe(tag === undefined ? 'ENOENT' : 'ok');
                if (r === 'ok') {
                  expect(liveFb(a.fb_id)).toBeUndefined();
                  fbs.push({ f: o.f, id: a.fb_id, tag: tag!, live: true });
                }
                break;
              }
              case 'rmfb': {
                const fd = files[o.f];
                const fb = fbs[o.i % Math.max(1, fbs.length)];
                if (fd === null || fd === undefined || !fb) break;
                const live = liveFb(fb.id);
                const r = await errno(sys.ioctl(fd, DRM_IOCTL_MODE_RMFB, fb.id));
                expect(r).toBe(live?.f === o.f ? 'ok' : 'ENOENT');
                if (r === 'ok') live!.live = false;
                expect(kms.fbs.has(fb.id)).toBe(liveFb(fb.id) !== undefined);
                break;
              }
              case 'flip': {
                const fb = fbs[o.i % Math.max(1, fbs.length)];
                if (!fb) break;
                const before = { live: liveFb(fb.id) !== undefined, pending: kms.pending !== null };
                expect(kms.fbs.has(fb.id)).toBe(before.live);
                const r = await errno(sys.ioctl(files[0]!, DRM_IOCTL_MODE_PAGE_FLIP, { crtc_id: KMS_CRTC_ID, fb_id: fb.id, flags: DRM_MODE_PAGE_FLIP_EVENT, reserved: 0, user_data: 1000 + flips.size }));
                expect(r).toBe(!before.live ? 'ENOENT' : before.pending ? 'EBUSY' : 'ok');
                if (r === 'ok') flips.set(1000 + flips.size, fb.tag);
                break;
              }
              case 'gem-close': {
                const fd = files[o.f];
                const bo = bos[o.b % Math.max(1, bos.length)];
                if (fd === null || fd === undefined || !bo || bo.f !== o.f) break;
                expect(await errno(sys.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: bo.handle, pad: 0 }))).toBe(bo.closed ? 'EINVAL' : 'ok');
                bo.closed = true;
                break;
              }
              case 'wait': {
                await sys.poll([{ fd: files[0]!, events: 0 }], o.ms);
                // the last frame fetched of the shown framebuffer holds its bytes
                const last = kms.lastScanout();
                if (kms.current && last?.fbId === kms.current.id) {
                  checked++;
                  expect(last.bytes[0]).toBe(liveFb(kms.current.id)!.tag);
                }
                break;
              }
              case 'close': {
                const fd = files[o.f];
                if (fd === null || fd === undefined) break;
                await sys.close(fd);
                files[o.f] = null;
                for (const b of bos) if (b.f === o.f) b.f = -1;
                for (const x of fbs) if (x.f === o.f) x.live = false;
                break;
              }
            }
            // the CRTC only ever shows or flips to framebuffers still in the table
            if (kms.current) expect(kms.fbs.get(kms.current.id)).toBe(kms.current);
            if (kms.pending) expect(kms.fbs.get(kms.pending.fb.id)).toBe(kms.pending.fb);
            // each event is a flip that was asked for; read them as they come
            const got = await sys.read(files[0]!, 320).catch(() => new Uint8Array(0));
            for (let off = 0; off < got.length; off += 32) {
              const v = new DataView(got.buffer, got.byteOffset + off, 32);
              expect(flips.has(Number(v.getBigUint64(8, true)))).toBe(true);
              events++;
            }
          }
          expect(events).toBeLessThanOrEqual(flips.size);
        });
        await dev.settle();
        expect(dev.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
        expect(kms.current).toBeNull();
        expect(kms.pending).toBeNull();
        expect(kms.fbs.size).toBe(0);
        expect(s.ctx.debug.liveMappings(s.disp)).toBe(0);
        expect(s.k.vfs.openFileCount).toBe(0);
        expect(s.mm.pages.freeCount()).toBe(free0);
        expect(s.soc.findings.findings).toEqual([]);
      }),
      { numRuns: 40 },
    );
    // the scanout check ran, not only vacuously
    expect(checked).toBeGreaterThan(0);
  });
});
