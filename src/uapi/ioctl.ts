/**
 * The ioctl request encoding of include/uapi/asm-generic/ioctl.h (x86, ARM
 * and arm64 share it): 2 direction bits, 14 size bits, 8 type bits and
 * 8 number bits. Requests are unsigned 32-bit numbers, as the kernel
 * compares them.
 */
export const _IOC_NRBITS = 8;
export const _IOC_TYPEBITS = 8;
export const _IOC_SIZEBITS = 14;
export const _IOC_DIRBITS = 2;
export const _IOC_NRSHIFT = 0;
export const _IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS;
export const _IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS;
export const _IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS;
export const _IOC_NONE = 0;
export const _IOC_WRITE = 1;
export const _IOC_READ = 2;

/** An ioctl type byte, given as the header's character ('b') or its code. */
export type IocType = string | number;

function typeCode(type: IocType): number {
  if (typeof type === 'string' && type.length !== 1) throw new RangeError(`ioctl type '${type}' is not one character`);
  const t = typeof type === 'string' ? type.charCodeAt(0) : type;
  if (!Number.isInteger(t) || t < 0 || t > 0xff) throw new RangeError(`ioctl type ${String(type)} is not one byte`);
  return t;
}

/** Encodes an ioctl request from its four fields (_IOC). */
export function _IOC(dir: number, type: IocType, nr: number, size: number): number {
  if (!Number.isInteger(nr) || nr < 0 || nr > 0xff) throw new RangeError(`ioctl number ${nr} is not one byte`);
  if (!Number.isInteger(size) || size < 0 || size >= 1 << _IOC_SIZEBITS) throw new RangeError(`ioctl size ${size} does not fit 14 bits`);
  return (
    ((dir << _IOC_DIRSHIFT) | (size << _IOC_SIZESHIFT) | (typeCode(type) << _IOC_TYPESHIFT) | (nr << _IOC_NRSHIFT)) >>> 0
  );
}

/** An ioctl without an argument struct (_IO). */
export function _IO(type: IocType, nr: number): number {
  return _IOC(_IOC_NONE, type, nr, 0);
}

/** An ioctl whose struct of `size` bytes the kernel writes to userspace (_IOR). */
export function _IOR(type: IocType, nr: number, size: number): number {
  return _IOC(_IOC_READ, type, nr, size);
}

/** An ioctl whose struct of `size` bytes userspace passes in (_IOW). */
export function _IOW(type: IocType, nr: number, size: number): number {
  return _IOC(_IOC_WRITE, type, nr, size);
}

/** An ioctl whose struct of `size` bytes goes both ways (_IOWR). */
export function _IOWR(type: IocType, nr: number, size: number): number {
  return _IOC(_IOC_READ | _IOC_WRITE, type, nr, size);
}

/** The direction bits of a request (_IOC_DIR). */
export function _IOC_DIR(req: number): number {
  return (req >>> _IOC_DIRSHIFT) & ((1 << _IOC_DIRBITS) - 1);
}

/** The type byte of a request (_IOC_TYPE). */
export function _IOC_TYPE(req: number): number {
  return (req >>> _IOC_TYPESHIFT) & ((1 << _IOC_TYPEBITS) - 1);
}

/** The number byte of a request (_IOC_NR). */
export function _IOC_NR(req: number): number {
  return (req >>> _IOC_NRSHIFT) & ((1 << _IOC_NRBITS) - 1);
}

/** The argument size of a request (_IOC_SIZE). */
export function _IOC_SIZE(req: number): number {
  return (req >>> _IOC_SIZESHIFT) & ((1 << _IOC_SIZEBITS) - 1);
}

/** Generic file ioctls the VFS handles before the driver (asm-generic/ioctls.h). */
export const FIONREAD = 0x541b;
export const FIONBIO = 0x5421;
export const FIONCLEX = 0x5450;
export const FIOCLEX = 0x5451;
export const FIOASYNC = 0x5452;
