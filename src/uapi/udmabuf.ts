import { _IOW } from './ioctl.ts';

/** udmabuf uapi (include/uapi/linux/udmabuf.h, Linux 6.1). */
export const UDMABUF_FLAGS_CLOEXEC = 0x01;

/** struct udmabuf_create (24 bytes). */
export interface UdmabufCreate {
  memfd: number;
  flags: number;
  offset: number | bigint;
  size: number | bigint;
}

/** struct udmabuf_create_item (24 bytes). */
export interface UdmabufCreateItem {
  memfd: number;
  __pad: number;
  offset: number | bigint;
  size: number | bigint;
}

/** struct udmabuf_create_list (8 bytes + `count` items). */
export interface UdmabufCreateList {
  flags: number;
  count: number;
  list: UdmabufCreateItem[];
}

export const UDMABUF_CREATE = _IOW('u', 0x42, 24 /* struct udmabuf_create */);
/** The flexible array does not count in the size: 8 bytes. */
export const UDMABUF_CREATE_LIST = _IOW('u', 0x43, 8 /* struct udmabuf_create_list */);
