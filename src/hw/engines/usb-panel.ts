import { inflateRawSync } from 'node:zlib';
import { KernelBug } from '../../lib/index.ts';
import type { Clock } from '../clock.ts';
import type { DmaMaster } from '../dma-master.ts';
import { sgDmaRead, type SgSegment } from './sg-dma.ts';

/** Bytes of the header that opens each damage message on the wire. */
export const USB_DAMAGE_HEADER = 16;
/** The header's magic ("UDMG", little-endian). */
export const USB_DAMAGE_MAGIC = 0x474d4455;

/**
 * A DisplayLink-style USB display as the SoC sees it: the USB host
 * controller reads each filled transfer buffer by DMA through its master
 * port and sends it down the cable; the dongle on the far side collects
 * the transfers into one message (a 16-byte header: magic, x, y, width,
 * height as u16, payload length as u32, all little-endian; then the
 * damaged lines, raw-deflated), inflates it and writes the lines into
 * its own frame memory, `panel`, which is what the screen shows.
 */
export class UsbPanel {
  readonly master: DmaMaster;
  readonly clock: Clock;
  readonly width: number;
  readonly height: number;
  private panelBytes: Uint8Array | null = null;
  /** The dongle's receive buffer: the message being assembled from transfers, grown to the largest message yet. */
  private rx = new Uint8Array(USB_DAMAGE_HEADER);

  constructor(master: DmaMaster, clock: Clock, width: number, height: number) {
    this.master = master;
    this.clock = clock;
    this.width = width;
    this.height = height;
  }

  /**
   * The dongle's frame memory: width * height * 4 bytes of XRGB8888, what
   * the panel shows (black until a message lands). Made when first used: a
   * platform boots its USB display whether or not a scenario plugs it in.
   */
  get panel(): Uint8Array {
    return (this.panelBytes ??= new Uint8Array(this.width * this.height * 4));
  }

  /**
   * Sends one transfer: the host controller reads `seg` (memory as it is
   * when the transfer starts) and the dongle puts it at byte `off` of the
   * message; waits the time the host's port needs. Throws the master's
   * DmaFault or BusError.
   */
  async transfer(seg: SgSegment, off: number): Promise<void> {
    if (this.rx.length < off + seg.len) {
      // doubling: a message arrives a transfer at a time
      const grown = new Uint8Array(Math.max(off + seg.len, 2 * this.rx.length));
      grown.set(this.rx.subarray(0, off));
      this.rx = grown;
    }
    await sgDmaRead(this.master, this.clock, [seg], this.rx, seg.len, 'dma read', { dstOff: off });
  }

  /**
   * Ends the message of `len` bytes: the dongle checks its header,
   * inflates it and writes its lines into the panel memory. A message that
   * does not parse is the driver's bug (KernelBug).
   */
  receive(len: number): void {
    const v = new DataView(this.rx.buffer, this.rx.byteOffset, len);
    if (len < USB_DAMAGE_HEADER || v.getUint32(0, true) !== USB_DAMAGE_MAGIC) throw new KernelBug('usb display: the dongle got a corrupt message');
    const x = v.getUint16(4, true);
    const y = v.getUint16(6, true);
    const w = v.getUint16(8, true) * 4;
    const h = v.getUint16(10, true);
    const plen = v.getUint32(12, true);
    if (USB_DAMAGE_HEADER + plen !== len) throw new KernelBug(`usb display: message of ${len} bytes says ${plen} payload bytes`);
    const lines = inflateRawSync(this.rx.subarray(USB_DAMAGE_HEADER, len));
    if (lines.length !== w * h) throw new KernelBug(`usb display: ${lines.length} bytes inflated for a ${w / 4}x${h} rectangle`);
    const stride = this.width * 4;
    const dst = y * stride + x * 4;
    if (w === stride) {
      this.panel.set(lines, dst);
    } else {
      for (let i = 0; i < h; i++) this.panel.set(lines.subarray(i * w, (i + 1) * w), dst + i * stride);
    }
  }
}
