// Lists the device nodes a booted platform offers: the kernel's virtual test
// drivers at the paths the reference machine has them (vgem, vivid), then the
// platform's own display, GPU, USB display, camera, ISP, JPEG codec, video
// decoder and audio playback PCM.
import { DRM_IOCTL_VERSION, O_RDWR, SNDRV_PCM_IOCTL_INFO, VIDIOC_QUERYCAP } from 'unimem/uapi';
import type { Sys } from 'unimem';

export default async function main(sys: Sys): Promise<number> {
  const out: string[] = [];
  for (const path of ['/dev/dri/card0', '/dev/dri/card1', '/dev/dri/card2', '/dev/dri/card3']) {
    const card = await sys.open(path, O_RDWR);
    const v = { version_major: 0, version_minor: 0, version_patchlevel: 0, name_len: 64, name: '', date_len: 64, date: '', desc_len: 64, desc: '' };
    await sys.ioctl(card, DRM_IOCTL_VERSION, v);
    out.push(`${path}: ${v.name} ${v.version_major}.${v.version_minor}.${v.version_patchlevel} (${v.desc})`);
    await sys.close(card);
  }
  for (const n of [0, 4, 8, 9, 10, 11, 12]) {
    const fd = await sys.open(`/dev/video${n}`, O_RDWR);
    const cap = { driver: '', card: '', bus_info: '', version: 0, capabilities: 0, device_caps: 0 };
    await sys.ioctl(fd, VIDIOC_QUERYCAP, cap);
    out.push(`/dev/video${n}: ${cap.driver} (${cap.card}) on ${cap.bus_info}`);
    await sys.close(fd);
  }
  const pcm = await sys.open('/dev/snd/pcmC0D0p', O_RDWR);
  const info = { device: 0, subdevice: 0, stream: 0, card: 0, id: '', name: '', subname: '', dev_class: 0, dev_subclass: 0, subdevices_count: 0, subdevices_avail: 0 };
  await sys.ioctl(pcm, SNDRV_PCM_IOCTL_INFO, info);
  out.push(`/dev/snd/pcmC0D0p: ${info.id} (${info.name}), card ${info.card} device ${info.device}, playback`);
  await sys.close(pcm);
  await sys.write(1, new TextEncoder().encode(out.join('\n') + '\n'));
  return 0;
}
