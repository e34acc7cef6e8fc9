import type { Tpg } from '../../../formats/index.ts';
import type { V4l2Fract } from '../../../uapi/index.ts';

/**
 * CONFIG_HZ of the reference kernel (Debian's x86_64 6.1): vivid's capture
 * thread counts in jiffies, so the OSD's time advances in 4 ms steps.
 */
const VIVID_HZ = 250;
const NS_PER_JIFFY = 1e9 / VIVID_HZ;
/** jiffies at boot, as a 32-bit count (INITIAL_JIFFIES: wraps five minutes after boot). */
const INITIAL_JIFFIES = 2 ** 32 - 300 * VIVID_HZ;

/** vivid's control values at their defaults, the ones the OSD prints (vivid_create_controls). */
const CTRL = {
  brightness: 128,
  contrast: 128,
  saturation: 128,
  hue: 0,
  autogain: 1,
  alpha: 0,
  volume: 200,
  mute: 0,
  int32: 0,
  int64: 0,
  bitmask: 0x80002000,
  boolean: 1,
  menu: 'Menu Item 3',
  // a string control's default is its minimum length (2) of spaces
  string: '  ',
  // the integer menu's default item 4, whose value is 5
  intMenu: 5,
  intMenuIndex: 4,
} as const;

/** What one frame's OSD shows besides the constant controls. */
export interface VividOsd {
  /** Frame period index since STREAMON or the last resync (the thread's buffers_since_start). */
  k: number;
  /** The buffer's sequence number (vid_cap_seq_count). */
  sequence: number;
  /** Simulated time of STREAMON or the last resync, ns since boot (jiffies_vid_cap). */
  epochNs: number;
  /** The capture frame interval (timeperframe_vid_cap). */
  interval: V4l2Fract;
  width: number;
  height: number;
  input: number;
}

/**
 * Jiffies after the stream's start at which vivid's thread fills frame `k`
 * (vivid_thread_vid_cap's next_jiffies_since_start): k intervals, rounded
 * to the nearest jiffy. Frame 0 is filled in the thread's first pass, in
 * the jiffy it records as the start.
 */
export function vividFrameJiffies(k: number, interval: V4l2Fract): number {
  const num = interval.numerator;
  const den = interval.denominator;
  return Math.floor((k * num * VIVID_HZ + Math.floor(den / 2)) / den);
}

/**
 * The gain vivid's autogain reports at `uptimeJiffies` after boot
 * (vivid_user_vid_g_volatile_ctrl): seconds of jiffies_to_msecs(jiffies),
 * a 32-bit count that starts five minutes short of wrapping, modulo 256.
 */
export function vividAutogain(uptimeJiffies: number): number {
  const ms = ((INITIAL_JIFFIES + uptimeJiffies) * (1000 / VIVID_HZ)) % 2 ** 32;
  return Math.floor(ms / 1000) & 0xff;
}

function pad(n: number, width: number, fill = '0'): string {
  return String(n).padStart(width, fill);
}

/**
 * The OSD's lines for one frame at vivid's default OSD mode, All
 * (vivid_fillbuff): the time since STREAMON as hh:mm:ss:ms and the
 * sequence, the frame size and input, then the user controls' values,
 * the autogain's gain read at the moment of filling.
 */
export function vividOsdLines(osd: VividOsd): string[] {
  const j = vividFrameJiffies(osd.k, osd.interval);
  const ms = (j * (1000 / VIVID_HZ)) >>> 0;
  const gain = vividAutogain(Math.floor(osd.epochNs / NS_PER_JIFFY) + j);
  const c = CTRL;
  return [
    ` ${pad(Math.floor(ms / 3600000) % 24, 2)}:${pad(Math.floor(ms / 60000) % 60, 2)}:${pad(Math.floor(ms / 1000) % 60, 2)}:${pad(ms % 1000, 3)} ${osd.sequence >>> 0}`,
    ` ${osd.width}x${osd.height}, input ${osd.input} `,
    ` brightness ${pad(c.brightness, 3, ' ')}, contrast ${pad(c.contrast, 3, ' ')}, saturation ${pad(c.saturation, 3, ' ')}, hue ${c.hue} `,
    ` autogain ${c.autogain}, gain ${pad(gain, 3, ' ')}, alpha 0x${pad(c.alpha, 2)} `,
    ` volume ${pad(c.volume, 3, ' ')}, mute ${c.mute} `,
    // the read-only int32 control follows the sequence number, modulo 256
    ` int32 ${c.int32}, ro_int32 ${osd.sequence & 0xff}, int64 ${c.int64}, bitmask ${c.bitmask.toString(16).padStart(8, '0')} `,
    ` boolean ${c.boolean}, menu ${c.menu}, string "${c.string}" `,
    ` integer_menu ${c.intMenu}, value ${c.intMenuIndex} `,
  ];
}

/**
 * Fills one capture buffer as vivid's thread does (vivid_fillbuff): the
 * test pattern for the format, then the OSD text from line 1, one 16-pixel
 * text line per OSD line, 16 pixels in.
 */
export function vividFillbuff(tpg: Tpg, dst: Uint8Array, osd: VividOsd): void {
  tpg.fill(dst);
  const lines = vividOsdLines(osd);
  for (let i = 0; i < lines.length; i++) tpg.genText(dst, (i + 1) * 16, 16, lines[i]!);
}
