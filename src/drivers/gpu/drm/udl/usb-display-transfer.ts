import { deflateRawSync } from 'node:zlib';
import { KernelBug, PAGE_SIZE } from '../../../../lib/index.ts';
import { DMA_TO_DEVICE, dmaMapSingle, dmaUnmapSingle, type Device } from '../../../../dma/index.ts';
import { USB_DAMAGE_HEADER, USB_DAMAGE_MAGIC, UsbPanel } from '../../../../hw/index.ts';
import type { Mm } from '../../../../mm/index.ts';

/** Bytes of one bulk transfer: udl's URB size (16 pages), and the USB host's largest segment. */
export const USB_TRANSFER_SIZE = 16 * PAGE_SIZE;

/** A damaged rectangle [x1, x2) x [y1, y2) in panel pixels, already clipped to the mode. */
export interface UsbDamage {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** What one damage send cost: bytes the CPU read, the compressed bytes the USB host sent, bytes dmabounce copied. */
export interface UsbSendCost {
  cpuReadBytes: number;
  compressedBytes: number;
  bounceBytes: number;
}

/**
 * The USB transfer engine of a DisplayLink-style display (udl's
 * udl_handle_damage, udl_render_hline and the URB path): the CPU gathers
 * the damaged lines through a kernel mapping, compresses them (raw
 * deflate, level 1) behind a small header into the one transfer buffer
 * (USB_TRANSFER_SIZE bytes of lowmem, allocated at probe and kept), and
 * the USB host controller reads each filled transfer buffer by DMA through
 * dma_map_single -- bounced by dmabounce when the buffer lies beyond the
 * host's mask. The host controller and the dongle beyond it are hw's
 * UsbPanel; its frame memory, `panel`, is what the screen shows. Sends
 * are serialised by the caller.
 */
export class UsbTransferEngine {
  readonly device: Device;
  readonly width: number;
  readonly height: number;
  /** The host controller and the dongle with its frame memory. */
  readonly hw: UsbPanel;
  /** The transfer buffer's first page frame and its linear-map address. */
  readonly pfn: number;
  readonly va: number;
  private readonly mm: Mm;
  /** Lines the CPU gathered for compression (the shadow copy udl renders from); made at the first damage. */
  private linesBytes: Uint8Array | null = null;
  private freed = false;

  /** Allocates the transfer buffer in lowmem (udl_alloc_urb_list) for a `width` x `height` panel. ENOMEM. */
  constructor(device: Device, mm: Mm, width: number, height: number) {
    this.device = device;
    this.mm = mm;
    this.width = width;
    this.height = height;
    this.pfn = mm.pages.allocPagesExact(USB_TRANSFER_SIZE / PAGE_SIZE, {});
    this.va = mm.kas.pfnToVirt(this.pfn);
    this.hw = new UsbPanel(device.master, device.ctx.soc.clock, width, height);
  }

  private get lines(): Uint8Array {
    return (this.linesBytes ??= new Uint8Array(this.width * this.height * 4));
  }

  /** The dongle's frame memory: width * height * 4 bytes of XRGB8888, what the panel shows. */
  get panel(): Uint8Array {
    return this.hw.panel;
  }

  /** Physical address of the transfer buffer. */
  get pa(): number {
    return this.pfn * PAGE_SIZE;
  }

  /**
   * Sends one damaged rectangle of a framebuffer the CPU can read at
   * kernel address `va` with `pitch` bytes per line (udl_handle_damage):
   * the CPU copies each damaged line (one run when the rectangle spans
   * whole, packed lines), compresses, and the USB host moves the result
   * transfer by transfer. The caller brackets it with begin/end CPU
   * access. Returns what it cost; the CPU and bus time pass in simulated
   * time. ENOMEM/EIO when the host cannot map the transfer buffer.
   */
  async sendDamage(va: number, pitch: number, r: UsbDamage): Promise<UsbSendCost> {
    if (this.freed) throw new KernelBug('usb display transfer engine used after free');
    const w = (r.x2 - r.x1) * 4;
    const h = r.y2 - r.y1;
    if (w <= 0 || h <= 0 || r.x1 < 0 || r.y1 < 0 || r.x2 > this.width || r.y2 > this.height) throw new KernelBug(`damage ${r.x1},${r.y1}-${r.x2},${r.y2} outside ${this.width}x${this.height}`);
    const src = va + r.y1 * pitch + r.x1 * 4;
    if (pitch === w) {
      this.mm.kas.load(src, this.lines, 0, w * h);
    } else {
      for (let y = 0; y < h; y++) this.mm.kas.load(src + y * pitch, this.lines, y * w, w);
    }
    const packed = deflateRawSync(this.lines.subarray(0, w * h), { level: 1 });
    const msg = new Uint8Array(USB_DAMAGE_HEADER + packed.length);
    const hv = new DataView(msg.buffer);
    hv.setUint32(0, USB_DAMAGE_MAGIC, true);
    hv.setUint16(4, r.x1, true);
    hv.setUint16(6, r.y1, true);
    hv.setUint16(8, r.x2 - r.x1, true);
    hv.setUint16(10, h, true);
    hv.setUint32(12, packed.length, true);
    msg.set(packed, USB_DAMAGE_HEADER);
    const bounceBytes = await this.transmit(msg);
    this.hw.receive(msg.length);
    return { cpuReadBytes: w * h, compressedBytes: msg.length, bounceBytes };
  }

  /**
   * Moves a message to the dongle, one transfer buffer at a time: the CPU
   * stores the chunk into the transfer buffer, the host maps it
   * (dma_map_single, which cleans the CPU cache or bounces), reads it over
   * the bus at the host's bandwidth, and unmaps it. The CPU work before
   * each transfer runs on a core first. Returns the bytes dmabounce copied.
   */
  private async transmit(msg: Uint8Array): Promise<number> {
    const dev = this.device;
    let bounced = 0;
    for (let off = 0; off < msg.length; off += USB_TRANSFER_SIZE) {
      const n = Math.min(USB_TRANSFER_SIZE, msg.length - off);
      this.mm.kas.store(this.va, msg, off, n);
      const b0 = dev.ctx.stats.bounceBytes;
      const addr = dmaMapSingle(dev, this.va, n, DMA_TO_DEVICE);
      bounced += dev.ctx.stats.bounceBytes - b0;
      // the stores, the cache clean and any bounce copy keep the CPU busy before the URB goes out
      await dev.ctx.soc.cores.runDebt();
      try {
        await this.hw.transfer({ addr, len: n }, off);
      } finally {
        dmaUnmapSingle(dev, addr, n, DMA_TO_DEVICE);
      }
    }
    return bounced;
  }

  /** Frees the transfer buffer (udl_free_urb_list). */
  free(): void {
    if (this.freed) throw new KernelBug('usb display transfer buffer freed twice');
    this.freed = true;
    this.mm.pages.freePagesExact(this.pfn, USB_TRANSFER_SIZE / PAGE_SIZE);
  }
}
