import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { KernelBug } from '../../../src/lib/index.ts';
import { USB_DAMAGE_HEADER, USB_DAMAGE_MAGIC, UsbPanel } from '../../../src/hw/index.ts';
import { pattern, smallSoc } from '../helpers.ts';

const BUF = 0x8040_0000;

describe('USB panel', () => {
  it('collects a damage message sent in two transfers and writes the rectangle into its frame memory', async () => {
    const soc = smallSoc();
    const panel = new UsbPanel(soc.master('dev'), soc.clock, 16, 8);
    const lines = pattern(5 * 4 * 3, 6); // 5x3 pixels at (7, 2)
    const packed = deflateRawSync(lines, { level: 1 });
    const msg = new Uint8Array(USB_DAMAGE_HEADER + packed.length);
    const v = new DataView(msg.buffer);
    v.setUint32(0, USB_DAMAGE_MAGIC, true);
    v.setUint16(4, 7, true);
    v.setUint16(6, 2, true);
    v.setUint16(8, 5, true);
    v.setUint16(10, 3, true);
    v.setUint32(12, packed.length, true);
    msg.set(packed, USB_DAMAGE_HEADER);
    const cut = 21;
    soc.mem.write(BUF, msg, 0, cut);
    await soc.clock.runUntilSettled(panel.transfer({ addr: BUF, len: cut }, 0));
    soc.mem.write(BUF + 0x1000, msg, cut, msg.length - cut);
    await soc.clock.runUntilSettled(panel.transfer({ addr: BUF + 0x1000, len: msg.length - cut }, cut));
    panel.receive(msg.length);
    const want = new Uint8Array(16 * 8 * 4);
    for (let y = 0; y < 3; y++) want.set(lines.subarray(y * 20, y * 20 + 20), (2 + y) * 64 + 7 * 4);
    expect(panel.panel).toEqual(want);
  });

  it('a message with a wrong magic is the driver bug it is', async () => {
    const soc = smallSoc();
    const panel = new UsbPanel(soc.master('dev'), soc.clock, 16, 8);
    soc.mem.fill(BUF, 32, 0);
    await soc.clock.runUntilSettled(panel.transfer({ addr: BUF, len: 32 }, 0));
    expect(() => panel.receive(32)).toThrow(KernelBug);
  });
});
