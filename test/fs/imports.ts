export * from '../../src/fs/index.ts';
/** A regular-file mode for pseudo inodes in tests (S_IFREG | 0600). */
export const S_IFREG_ANON = 0o100600;
