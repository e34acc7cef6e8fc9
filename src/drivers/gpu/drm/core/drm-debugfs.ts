import { registerSeqFile, type SeqFileNode } from '../../../../fs/index.ts';
import { DRIVER_GEM, type DrmDevice, type DrmMinor } from './drm-device.ts';

/** C's "%<w>s" / "%<w>d": right-aligned in `w` columns, never cut. */
function pad(v: string | number, w: number): string {
  return String(v).padStart(w);
}

/**
 * The text of dri/<minor>/name (drm_name_info): the driver's name, the
 * parent device's name, the master's unique id once SET_VERSION set one,
 * and the device's unique id, e.g. "vgem dev=vgem unique=vgem".
 */
export function drmNameInfo(dev: DrmDevice): string {
  const unique = dev.device.name;
  let text = `${dev.driver.name} dev=${dev.device.name}`;
  const masterUnique = dev.master?.drmMaster?.unique;
  if (masterUnique) text += ` master=${masterUnique}`;
  return `${text} unique=${unique}\n`;
}

/**
 * The text of dri/<minor>/clients (drm_clients_info): a header, then one
 * line per open file of the device, oldest first: the opener's command,
 * pid, the minor it opened, whether it is the current master and
 * authenticated, its uid and its magic token.
 */
export function drmClientsInfo(dev: DrmDevice): string {
  let text = `${pad('command', 20)} ${pad('tgid', 5)} ${pad('dev', 3)} master a ${pad('uid', 5)} ${pad('magic', 10)}\n`;
  for (const f of dev.files) {
    const master = f.isCurrentMaster ? 'y' : 'n';
    const auth = f.authenticated ? 'y' : 'n';
    text += `${pad(f.comm.slice(0, 15), 20)} ${pad(f.pid, 5)} ${pad(f.minor.index, 3)}   ${master}    ${auth} ${pad(f.uid, 5)} ${pad(f.magic >>> 0, 10)}\n`;
  }
  return text;
}

/**
 * The text of dri/<minor>/gem_names (drm_gem_name_info): every flinked
 * object by name, with its size, handle count and reference count.
 */
export function drmGemNameInfo(dev: DrmDevice): string {
  let text = '  name     size handles refcount\n';
  const names = [...dev.objectNames.keys()].sort((a, b) => a - b);
  for (const n of names) {
    const obj = dev.objectNames.get(n)!;
    text += `${pad(n, 6)} ${pad(obj.size, 8)} ${pad(obj.handleCount, 7)} ${pad(obj.refcount, 8)}\n`;
  }
  return text;
}

/**
 * Creates /sys/kernel/debug/dri/<minor index>/ with the core's files
 * (drm_debugfs_init): name, clients, and gem_names for a GEM driver, each
 * read-only (0444). Returns the files.
 */
export function drmDebugfsInit(dev: DrmDevice, minor: DrmMinor): SeqFileNode[] {
  const vfs = dev.dbs.vfs;
  const dir = `/sys/kernel/debug/dri/${minor.index}`;
  const nodes = [registerSeqFile(vfs, `${dir}/name`, () => drmNameInfo(dev)), registerSeqFile(vfs, `${dir}/clients`, () => drmClientsInfo(dev))];
  if (dev.driver.features & DRIVER_GEM) nodes.push(registerSeqFile(vfs, `${dir}/gem_names`, () => drmGemNameInfo(dev)));
  return nodes;
}
