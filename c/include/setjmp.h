/*
 * unimem's C header layer: setjmp and longjmp need WebAssembly exception
 * handling, which unimem's build (binaryen's asyncify) does not support yet.
 * Without this header clang would find the host's glibc <setjmp.h>.
 */
#error "unimem: a C program cannot use setjmp/longjmp yet (see the README's C programs section)"
