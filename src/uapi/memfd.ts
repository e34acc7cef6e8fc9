/** memfd_create(2) flags (include/uapi/linux/memfd.h, Linux 6.1). */
export const MFD_CLOEXEC = 0x0001;
export const MFD_ALLOW_SEALING = 0x0002;
export const MFD_HUGETLB = 0x0004;
/** With MFD_HUGETLB, log2 of the huge page size sits in these bits (HUGETLB_FLAG_ENCODE_*). */
export const MFD_HUGE_SHIFT = 26;
export const MFD_HUGE_MASK = 0x3f;
