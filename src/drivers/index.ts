/**
 * DOC: drivers — device drivers
 *
 * Drivers use only the public kernel APIs below them (dma, dmabuf, fs),
 * as real drivers do. A capture engine writes frames into buffers already
 * mapped for its device; a scanout engine reads the framebuffer each vsync.
 * Device jobs are async and take simulated time on the device's port.
 */
export * from './pixel-format.ts';
export * from './test-pattern.ts';
export * from './camera.ts';
export * from './display.ts';
export * from './v4l2/index.ts';
export * from './vivid.ts';
export * from './vgem.ts';
export * from './gpu.ts';
export * from './display-kms.ts';
export * from './usb-display.ts';
export * from './camera-v4l2.ts';
export * from './media/vb2-dma-sg.ts';
export * from './media/m2m.ts';
export * from './isp.ts';
export * from './jpeg.ts';
export * from './vdec.ts';
export * from './sound/index.ts';
