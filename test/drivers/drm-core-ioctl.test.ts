import { describe, expect, it } from 'vitest';
import { makeCred } from '../../src/fs/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  DRM_IOCTL_AUTH_MAGIC,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_GET_CLIENT,
  DRM_IOCTL_GET_MAGIC,
  DRM_IOCTL_GET_UNIQUE,
  DRM_IOCTL_SET_VERSION,
  O_RDONLY,
  O_RDWR,
  type DrmClient,
  type DrmSetVersion,
  type DrmUnique,
} from '../../src/uapi/index.ts';
import { errno, run } from '../dmabuf/helpers.ts';
import { dumb, vgemSystem } from './vgem-helpers.ts';

// What a libdrm client does at start-up (drmSetInterfaceVersion, drmGetBusid,
// drmGetMagic/drmAuthMagic, drmGetClient) and what IGT's core_auth, core_getclient
// and gem_flink_basic check, against vgem, with the DRM core's debugfs files
// (drm_debugfs.c) read as the kernel prints them.

const DRI = '/sys/kernel/debug/dri';

function setVersion(di: [number, number], dd: [number, number]): DrmSetVersion {
  return { drm_di_major: di[0], drm_di_minor: di[1], drm_dd_major: dd[0], drm_dd_minor: dd[1] };
}

async function getUnique(sys: Sys, fd: number, len: number): Promise<DrmUnique> {
  const u: DrmUnique = { unique_len: len, unique: '' };
  await sys.ioctl(fd, DRM_IOCTL_GET_UNIQUE, u);
  return u;
}

async function getMagic(sys: Sys, fd: number): Promise<number> {
  const a = { magic: 0 };
  await sys.ioctl(fd, DRM_IOCTL_GET_MAGIC, a);
  return a.magic;
}

async function getClientAuth(sys: Sys, fd: number): Promise<DrmClient> {
  const c: DrmClient = { idx: 0, auth: -1, pid: 0, uid: 0, magic: -1, iocs: -1 };
  await sys.ioctl(fd, DRM_IOCTL_GET_CLIENT, c);
  return c;
}

describe('DRM core start-up ioctls and debugfs', () => {
  it('SET_VERSION 1.4 on the master succeeds and ties the master to the device; name shows it', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      expect(await sys.readFile(`${DRI}/0/name`)).toBe('vgem dev=vgem unique=vgem\n');
      expect(await sys.readFile(`${DRI}/128/name`)).toBe('vgem dev=vgem unique=vgem\n');
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const other = await sys.open('/dev/dri/card0', O_RDWR);
      const render = await sys.open('/dev/dri/renderD128', O_RDWR);
      expect(await getUnique(sys, card, 0)).toEqual({ unique_len: 0, unique: '' });
      const sv = setVersion([1, 4], [-1, -1]);
      expect(await sys.ioctl(card, DRM_IOCTL_SET_VERSION, sv)).toBe(0);
      expect(sv).toEqual(setVersion([1, 4], [1, 0]));
      expect(await sys.readFile(`${DRI}/0/name`)).toBe('vgem dev=vgem master=vgem unique=vgem\n');
      // GET_UNIQUE: the length always, the bytes only when they fit; the other opener shares the master
      expect(await getUnique(sys, card, 2)).toEqual({ unique_len: 4, unique: '' });
      expect(await getUnique(sys, other, 4)).toEqual({ unique_len: 4, unique: 'vgem' });
      expect(await errno(getUnique(sys, render, 4))).toBe('EACCES');
      // only the master may set the version; the render node never
      expect(await errno(sys.ioctl(other, DRM_IOCTL_SET_VERSION, setVersion([1, 4], [-1, -1])))).toBe('EACCES');
      expect(await errno(sys.ioctl(render, DRM_IOCTL_SET_VERSION, setVersion([1, 4], [-1, -1])))).toBe('EACCES');
      // versions the kernel lacks: EINVAL, with what it has written back
      const tooNew = setVersion([1, 5], [-1, -1]);
      expect(await errno(sys.ioctl(card, DRM_IOCTL_SET_VERSION, tooNew))).toBe('EINVAL');
      expect(tooNew).toEqual(setVersion([1, 4], [1, 0]));
      expect(await errno(sys.ioctl(card, DRM_IOCTL_SET_VERSION, setVersion([2, 0], [-1, -1])))).toBe('EINVAL');
      expect(await errno(sys.ioctl(card, DRM_IOCTL_SET_VERSION, setVersion([-1, -1], [1, 1])))).toBe('EINVAL');
      expect(await sys.ioctl(card, DRM_IOCTL_SET_VERSION, setVersion([-1, -1], [1, 0]))).toBe(0);
      expect(await errno(sys.ioctl(card, DRM_IOCTL_SET_VERSION, null))).toBe('EFAULT');
      // the master gone, the device has none: no master= any more
      await sys.close(card);
      expect(await sys.readFile(`${DRI}/0/name`)).toBe('vgem dev=vgem unique=vgem\n');
    });
  });

  it('clients lists every open file oldest first: command, pid, minor, master, authenticated, uid, magic', async () => {
    const s = vgemSystem();
    await run(s, async function drmclient(sys) {
      const header = '             command  tgid dev master a   uid      magic\n';
      expect(await sys.readFile(`${DRI}/0/clients`)).toBe(header);
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const second = await sys.open('/dev/dri/card0', O_RDWR);
      const render = await sys.open('/dev/dri/renderD128', O_RDWR);
      expect(await getMagic(sys, second)).toBe(1);
      expect(await getMagic(sys, second)).toBe(1);
      const pid = String((await getClientAuth(sys, card)).pid);
      const row = (dev: number, m: string, a: string, magic: number) =>
        `${'drmclient'.padStart(20)} ${pid.padStart(5)} ${String(dev).padStart(3)}   ${m}    ${a} ${'0'.padStart(5)} ${String(magic).padStart(10)}\n`;
      const text = header + row(0, 'y', 'y', 0) + row(0, 'n', 'y', 1) + row(128, 'n', 'y', 0);
      expect(await sys.readFile(`${DRI}/0/clients`)).toBe(text);
      expect(await sys.readFile(`${DRI}/128/clients`)).toBe(text);
      await sys.close(second);
      await sys.close(render);
      expect(await sys.readFile(`${DRI}/0/clients`)).toBe(header + row(0, 'y', 'y', 0));
      await sys.close(card);
    });
    // debugfs is root's
    await run(s, async (sys) => {
      expect(await errno(sys.readFile(`${DRI}/0/clients`))).toBe('EACCES');
    }, makeCred(1000, 44));
  });

  it('GET_MAGIC and AUTH_MAGIC authenticate a user client once; GET_CLIENT reports it', async () => {
    const s = vgemSystem();
    await run(
      s,
      async (sys) => {
        const master = await sys.open('/dev/dri/card0', O_RDWR);
        const client = await sys.open('/dev/dri/card0', O_RDWR);
        const c = await getClientAuth(sys, client);
        expect(c).toMatchObject({ idx: 0, auth: 0, uid: 65534, magic: 0, iocs: 0 });
        expect(c.pid).toBeGreaterThan(0);
        expect((await getClientAuth(sys, master)).auth).toBe(1);
        expect(await errno(sys.ioctl(client, DRM_IOCTL_GET_CLIENT, { idx: 1, auth: 0, pid: 0, uid: 0, magic: 0, iocs: 0 }))).toBe('EINVAL');
        // an unauthenticated client may not flink
        const { handle } = await dumb(sys, client);
        expect(await errno(sys.ioctl(client, DRM_IOCTL_GEM_FLINK, { handle, name: 0 }))).toBe('EACCES');
        const magic = await getMagic(sys, client);
        expect(magic).toBe(1);
        expect(await errno(sys.ioctl(client, DRM_IOCTL_AUTH_MAGIC, { magic }))).toBe('EACCES');
        expect(await errno(sys.ioctl(master, DRM_IOCTL_AUTH_MAGIC, { magic: 7 }))).toBe('EINVAL');
        expect(await sys.ioctl(master, DRM_IOCTL_AUTH_MAGIC, { magic })).toBe(0);
        expect((await getClientAuth(sys, client)).auth).toBe(1);
        // a token works once
        expect(await errno(sys.ioctl(master, DRM_IOCTL_AUTH_MAGIC, { magic }))).toBe('EINVAL');
        expect(await sys.ioctl(client, DRM_IOCTL_GEM_FLINK, { handle, name: 0 })).toBe(0);
        // render nodes have no magic
        const render = await sys.open('/dev/dri/renderD128', O_RDWR);
        expect(await errno(getMagic(sys, render))).toBe('EACCES');
      },
      makeCred(1000, 44),
    );
  });

  it('GEM_FLINK names an object for GEM_OPEN in another file; gem_names lists it until its last handle goes', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const header = '  name     size handles refcount\n';
      const a = await sys.open('/dev/dri/card0', O_RDWR);
      const b = await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, a);
      expect(await sys.readFile(`${DRI}/0/gem_names`)).toBe(header);
      const f = { handle, name: 0 };
      await sys.ioctl(a, DRM_IOCTL_GEM_FLINK, f);
      expect(f.name).toBe(1);
      const again = { handle, name: 0 };
      await sys.ioctl(a, DRM_IOCTL_GEM_FLINK, again);
      expect(again.name).toBe(1);
      expect(await sys.readFile(`${DRI}/0/gem_names`)).toBe(header + '     1    65536       1        1\n');
      const o = { name: 1, handle: 0, size: 0 as number | bigint };
      await sys.ioctl(b, DRM_IOCTL_GEM_OPEN, o);
      expect(o).toEqual({ name: 1, handle: 1, size: 65536 });
      expect(await sys.readFile(`${DRI}/128/gem_names`)).toBe(header + '     1    65536       2        2\n');
      expect(await errno(sys.ioctl(a, DRM_IOCTL_GEM_FLINK, { handle: 0xdead, name: 0 }))).toBe('ENOENT');
      expect(await errno(sys.ioctl(b, DRM_IOCTL_GEM_OPEN, { name: 2, handle: 0, size: 0 }))).toBe('ENOENT');
      const render = await sys.open('/dev/dri/renderD128', O_RDWR);
      expect(await errno(sys.ioctl(render, DRM_IOCTL_GEM_OPEN, { name: 1, handle: 0, size: 0 }))).toBe('EACCES');
      await sys.ioctl(a, DRM_IOCTL_GEM_CLOSE, { handle, pad: 0 });
      expect(await sys.readFile(`${DRI}/0/gem_names`)).toBe(header + '     1    65536       1        1\n');
      await sys.ioctl(b, DRM_IOCTL_GEM_CLOSE, { handle: o.handle, pad: 0 });
      expect(await sys.readFile(`${DRI}/0/gem_names`)).toBe(header);
      expect(await errno(sys.ioctl(b, DRM_IOCTL_GEM_OPEN, { name: 1, handle: 0, size: 0 }))).toBe('ENOENT');
    });
    expect(s.vgem.stats.objects).toBe(0);
  });

  it('the debugfs files are read-only (0444) text: a write is EINVAL even for root', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const fd = await sys.open(`${DRI}/0/name`, O_RDWR);
      expect((await sys.fstat(fd)).st_mode & 0o777).toBe(0o444);
      expect(await errno(sys.write(fd, new Uint8Array([0x41])))).toBe('EINVAL');
      const ro = await sys.open(`${DRI}/0/gem_names`, O_RDONLY);
      expect(new TextDecoder().decode(await sys.read(ro, 8))).toBe('  name  ');
    });
  });
});
