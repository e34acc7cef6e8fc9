/**
 * d_type values of struct linux_dirent64 (the kernel's fs_types.h, spelled
 * as glibc's dirent.h spells them): the S_IFMT bits shifted down by 12.
 */
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;
export const DT_WHT = 14;

/** One entry getdents64(2) writes (struct linux_dirent64); d_reclen is its size in the caller's buffer. */
export interface LinuxDirent64 {
  d_ino: number;
  /** Position of the next entry: what lseek(fd, d_off, SEEK_SET) resumes at. */
  d_off: number;
  d_reclen: number;
  d_type: number;
  d_name: string;
}
