// Finds the virtual devices a userspace developer tests against, as on the
// reference machine: vgem at /dev/dri/card0 and the two vivid instances.
import { DRM_IOCTL_VERSION, O_RDWR, VIDIOC_QUERYCAP } from 'unimem/uapi';
import type { Sys } from 'unimem';

export default async function main(sys: Sys): Promise<number> {
  const out: string[] = [];
  const card = await sys.open('/dev/dri/card0', O_RDWR);
  const v = { version_major: 0, version_minor: 0, version_patchlevel: 0, name_len: 64, name: '', date_len: 64, date: '', desc_len: 64, desc: '' };
  await sys.ioctl(card, DRM_IOCTL_VERSION, v);
  out.push(`/dev/dri/card0: ${v.name} ${v.version_major}.${v.version_minor}.${v.version_patchlevel} (${v.desc})`);
  for (const path of ['/dev/video0', '/dev/video4']) {
    const fd = await sys.open(path, O_RDWR);
    const cap = { driver: '', card: '', bus_info: '', version: 0, capabilities: 0, device_caps: 0 };
    await sys.ioctl(fd, VIDIOC_QUERYCAP, cap);
    out.push(`${path}: ${cap.driver} on ${cap.bus_info}`);
  }
  await sys.write(1, new TextEncoder().encode(out.join('\n') + '\n'));
  return 0;
}
