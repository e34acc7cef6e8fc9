import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DRM_IOCTL_GEM_CLOSE, MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE } from '../../src/uapi/index.ts';
import { run } from '../dmabuf/helpers.ts';
import { dumb, mapDumb, toFd, toHandle, vgemSystem } from './vgem-helpers.ts';

type Op =
  | { k: 'create'; f: number }
  | { k: 'export'; f: number; h: number }
  | { k: 'import'; f: number; b: number }
  | { k: 'close-handle'; f: number; h: number }
  | { k: 'close-buf'; b: number }
  | { k: 'map-gem'; f: number; h: number }
  | { k: 'map-buf'; b: number }
  | { k: 'unmap'; m: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('create' as const), f: fc.nat(2) }),
  fc.record({ k: fc.constant('export' as const), f: fc.nat(2), h: fc.nat(7) }),
  fc.record({ k: fc.constant('import' as const), f: fc.nat(2), b: fc.nat(7) }),
  fc.record({ k: fc.constant('close-handle' as const), f: fc.nat(2), h: fc.nat(7) }),
  fc.record({ k: fc.constant('close-buf' as const), b: fc.nat(7) }),
  fc.record({ k: fc.constant('map-gem' as const), f: fc.nat(2), h: fc.nat(7) }),
  fc.record({ k: fc.constant('map-buf' as const), b: fc.nat(7) }),
  fc.record({ k: fc.constant('unmap' as const), m: fc.nat(7) }),
);

describe('GEM and PRIME lifetimes', () => {
  it('any sequence of creates, exports, imports, closes and mappings across three files leaves nothing behind, and each object keeps its bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const s = vgemSystem();
        const free0 = s.mm.pages.freeCount();
        await run(s, async (sys) => {
          const files = [await sys.open('/dev/dri/card0', O_RDWR), await sys.open('/dev/dri/card0', O_RDWR), await sys.open('/dev/dri/renderD128', O_RDWR)];
          const bufs: number[] = [];
          const maps: { addr: number; tag: number }[] = [];
          // every object is tagged with the byte its creator wrote into its first page
          const tagOfHandle = new Map<string, number>();
          const tagOfBuf = new Map<number, number>();
          let next = 1;
          // the o.h-th handle file f has, or one it does not have when it has none
          const pickHandle = (f: number, h: number): number => {
            const hs = [...tagOfHandle.keys()].filter((k) => k.startsWith(`${f}:`)).map((k) => Number(k.slice(2)));
            return hs.length ? hs.sort((a, b) => a - b)[h % hs.length]! : 0xdead;
          };
          const ok = async (p: Promise<unknown>) => {
            try {
              await p;
              return true;
            } catch (e) {
              const code = (e as { code?: string }).code;
              if (code === 'ENOENT' || code === 'EINVAL' || code === 'EACCES' || code === 'EBADF') return false;
              throw e;
            }
          };
          for (const o of ops) {
            switch (o.k) {
              case 'create': {
                if (o.f === 2) break; // no dumb buffers on the render node
                const d = await dumb(sys, files[o.f]!, 16, 16, 32);
                const tag = next++ & 0xff;
                const m = await sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, files[o.f]!, await mapDumb(sys, files[o.f]!, d.handle));
                await sys.store(m, new Uint8Array([tag]));
                await sys.munmap(m, 4096);
                tagOfHandle.set(`${o.f}:${d.handle}`, tag);
                break;
              }
              case 'export': {
                const h = pickHandle(o.f, o.h);
                const tag = tagOfHandle.get(`${o.f}:${h}`);
                let fd = -1;
                const got = await ok(toFd(sys, files[o.f]!, h).then((x) => (fd = x)));
                expect(got).toBe(tag !== undefined);
                if (got) {
                  bufs.push(fd);
                  tagOfBuf.set(fd, tag!);
                }
                break;
              }
              case 'import': {
                const fd = bufs[o.b % Math.max(1, bufs.length)];
                if (fd === undefined) break;
                const h = await toHandle(sys, files[o.f]!, fd);
                const known = tagOfHandle.get(`${o.f}:${h}`);
                if (known !== undefined) expect(known).toBe(tagOfBuf.get(fd));
                tagOfHandle.set(`${o.f}:${h}`, tagOfBuf.get(fd)!);
                break;
              }
              case 'close-handle': {
                const h = pickHandle(o.f, o.h);
                const had = tagOfHandle.delete(`${o.f}:${h}`);
                expect(await ok(sys.ioctl(files[o.f]!, DRM_IOCTL_GEM_CLOSE, { handle: h, pad: 0 }))).toBe(had);
                break;
              }
              case 'close-buf': {
                const i = o.b % Math.max(1, bufs.length);
                const fd = bufs[i];
                if (fd === undefined) break;
                bufs.splice(i, 1);
                tagOfBuf.delete(fd);
                await sys.close(fd);
                break;
              }
              case 'map-gem': {
                const h = pickHandle(o.f, o.h);
                const tag = tagOfHandle.get(`${o.f}:${h}`);
                if (tag === undefined || o.f === 2) break;
                const off = await mapDumb(sys, files[o.f]!, h);
                maps.push({ addr: await sys.mmap(0, 4096, PROT_READ, MAP_SHARED, files[o.f]!, off), tag });
                break;
              }
              case 'map-buf': {
                const fd = bufs[o.b % Math.max(1, bufs.length)];
                if (fd === undefined) break;
                maps.push({ addr: await sys.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0), tag: tagOfBuf.get(fd)! });
                break;
              }
              case 'unmap': {
                const i = o.m % Math.max(1, maps.length);
                const m = maps[i];
                if (!m) break;
                maps.splice(i, 1);
                await sys.munmap(m.addr, 4096);
                break;
              }
            }
            for (const m of maps) expect((await sys.load(m.addr, 1))[0]).toBe(m.tag);
          }
        });
        await s.vgem.settle();
        expect(s.vgem.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
        expect(s.dbs.buffers).toHaveLength(0);
        expect(s.k.vfs.openFileCount).toBe(0);
        expect(s.mm.pages.freeCount()).toBe(free0);
        expect(s.soc.findings.findings).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });
});
