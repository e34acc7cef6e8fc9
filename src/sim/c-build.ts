import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { packageRoot } from '../lib/index.ts';
import { InputError } from './input-error.ts';
import { dwarfToSourceMap, withSourceMap } from './wasm-source-map.ts';

/*
 * Builds an unmodified C program into a WebAssembly module that runs as a
 * unimem process (wasm-program.ts). Debian's clang compiles it for
 * wasm32-wasi against wasi-libc, with unimem's header layer first (c/include:
 * Linux's O_* and mman values, an ioctl taking an unsigned long, asm-generic
 * for <asm/...>, __linux__ for the DRM headers) and unimem's shim linked
 * before libc (c/shim.c: open, ioctl, mmap, the directory calls and the
 * program break as imports of the simulated kernel). Bulk-memory
 * instructions stay off, because memory.copy and memory.fill would bypass
 * the hooks below. binaryen's wasm-opt (the npm package's) then turns every load and store into
 * a call the host makes through the process's mappings and CPU cache
 * (--instrument-memory), and lets a synchronous import wait on an
 * asynchronous system call (--asyncify).
 *
 * The program's memory starts at 64 KiB (--global-base), because its
 * addresses are the process's user addresses and Linux maps nothing below
 * mmap_min_addr: a NULL dereference faults as it does on Linux.
 */

const execFileAsync = promisify(execFile);

/** Debian packages of the toolchain, named in the message when a tool is missing. */
export const C_TOOLCHAIN_PACKAGES = 'clang lld wasi-libc libclang-rt-dev-wasm32';

/** Where the program's data starts: the lowest address Linux maps (mmap_min_addr, 64 KiB here). */
export const C_GLOBAL_BASE = 0x10000;

/** The imports a program may block in: every system call (the shim's and wasi-libc's WASI calls). */
const ASYNC_IMPORTS = [
  ...['open', 'ioctl', 'mmap', 'munmap', 'mprotect', 'getdents64', 'getpid', 'brk_grow', 'getauxval', 'fcntl', 'memfd_create', 'ftruncate', 'fork', 'wait', 'socketpair', 'sendmsg', 'recvmsg', 'pipe2', 'poll', 'stat', 'futex', 'thread_spawn', 'thread_join', 'rt_sigaction', 'rt_sigprocmask', 'sigpending', 'kill', 'alarm', 'pause', 'sigsuspend'].map((n) => `unimem.${n}`),
  ...[
    'fd_close',
    'fd_fdstat_get',
    'fd_seek',
    'fd_write',
    'fd_read',
    'fd_sync',
    'clock_time_get',
    'poll_oneoff',
    'random_get',
    'sched_yield',
  ].map((n) => `wasi_snapshot_preview1.${n}`),
];

/** The Debian package holding the kernel sources the DRM uapi headers and selftests come from. */
export const LINUX_SOURCE_TARBALL = '/usr/src/linux-source-6.1.tar.xz';

/** The folder built modules and extracted kernel files are cached in (UNIMEM_CACHE, else ~/.cache/unimem). */
export function cacheDir(): string {
  const d = process.env.UNIMEM_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'unimem');
  mkdirSync(d, { recursive: true });
  return d;
}

/** The first of `names` found on PATH (a file search, no process started), or undefined. */
function findTool(names: readonly string[]): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const n of names) for (const d of dirs) if (existsSync(join(d, n))) return realpathSync(join(d, n));
  return undefined;
}

/**
 * binaryen's wasm-opt from the npm package unimem depends on, not Debian's:
 * its passes keep each call's place in the source map (Debian's version
 * 108 moves the line of some calls to the statement before, after
 * asyncify), and every install has the same one.
 */
function packagedWasmOpt(): string {
  return join(dirname(createRequire(import.meta.url).resolve('binaryen/package.json')), 'bin', 'wasm-opt');
}

interface Toolchain {
  clang: string;
  wasmOpt: string;
  /** What a build depends on besides its sources: each tool's and wasi-libc's file and modification time. */
  identity: string;
}

let toolchain: Toolchain | undefined;

/** The compiler and optimiser, or an InputError naming the Debian packages when one is missing. */
function findToolchain(file: string): Toolchain {
  if (toolchain) return toolchain;
  const missing = (what: string) => new InputError(file, 0, 0, '', `cannot build C: ${what}; install the toolchain with \`apt-get install ${C_TOOLCHAIN_PACKAGES}\``);
  const clang = findTool(['clang', 'clang-14', 'clang-15', 'clang-16']);
  if (!clang) throw missing('clang is not installed');
  const wasmOpt = packagedWasmOpt();
  const wasmLd = findTool(['wasm-ld', 'wasm-ld-14', 'wasm-ld-15', 'wasm-ld-16']);
  if (!wasmLd) throw missing("lld's wasm-ld is not installed");
  const libc = WASI_LIBC.find((f) => existsSync(f));
  if (!libc) throw missing('wasi-libc is not installed');
  const identity = [clang, wasmOpt, wasmLd, libc].map((f) => `${f}@${statSync(f).mtimeMs}`).join(';');
  return (toolchain = { clang, wasmOpt, identity });
}

/** What keeps C programs from being built here (a sentence naming the packages), or undefined when the toolchain is complete. */
export function cToolchainProblem(): string | undefined {
  try {
    checkClangTargets('cc', findToolchain('cc').clang);
    return undefined;
  } catch (e) {
    if (e instanceof InputError) return e.detail;
    throw e;
  }
}

/** Where Debian's (and wasi-sdk's) wasi-libc keeps libc.a. */
const WASI_LIBC = ['/usr/lib/wasm32-wasi/libc.a', '/usr/share/wasi-sysroot/lib/wasm32-wasi/libc.a'];

/** Checks, once a build is needed, that clang finds wasi-libc and its wasm32 runtime library. */
function checkClangTargets(file: string, clang: string): void {
  const missing = (what: string) => new InputError(file, 0, 0, '', `cannot build C: ${what}; install the toolchain with \`apt-get install ${C_TOOLCHAIN_PACKAGES}\``);
  const libc = spawnSync(clang, ['--target=wasm32-wasi', '-print-file-name=libc.a'], { encoding: 'utf8' }).stdout.trim();
  if (!existsSync(libc)) throw missing('clang does not find wasi-libc');
  const rt = spawnSync(clang, ['--target=wasm32-wasi', '-print-libgcc-file-name'], { encoding: 'utf8' }).stdout.trim();
  if (!existsSync(rt)) throw missing(`clang's wasm32 runtime (${basename(rt)}) is not installed`);
}

/**
 * Extracts files of the Debian kernel sources (linux-source-6.1) into the
 * cache, once, and returns the folder they sit under (the tarball's
 * top-level folder). `paths` are globs relative to it. Undefined when the
 * package is not installed.
 */
export function linuxSourceFiles(paths: readonly string[]): string | undefined {
  const x = linuxSourceExtraction(paths);
  if (x?.args) {
    const r = spawnSync('tar', x.args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot extract ${paths.join(', ')} from ${LINUX_SOURCE_TARBALL}: ${r.stderr.trim()}`);
  }
  return x?.dir;
}

/**
 * linuxSourceFiles without blocking the thread: xz unpacks the whole
 * tarball to find a few files, which takes most of a minute.
 */
export async function linuxSourceFilesAsync(paths: readonly string[]): Promise<string | undefined> {
  const x = linuxSourceExtraction(paths);
  if (x?.args) {
    try {
      await execFileAsync('tar', x.args, { encoding: 'utf8' });
    } catch (e) {
      const stderr = (e as { stderr?: string }).stderr ?? String(e);
      throw new Error(`cannot extract ${paths.join(', ')} from ${LINUX_SOURCE_TARBALL}: ${stderr.trim()}`);
    }
  }
  return x?.dir;
}

/** Where the sources go, and tar's arguments for the files not there yet (none when all are); undefined without the package. */
function linuxSourceExtraction(paths: readonly string[]): { dir: string; args: string[] | null } | undefined {
  if (!existsSync(LINUX_SOURCE_TARBALL)) return undefined;
  const top = 'linux-source-6.1';
  const root = join(cacheDir(), 'linux-6.1');
  const want = paths.filter((p) => !existsSync(join(root, top, p.replace(/\/\*$/, ''))));
  if (want.length > 0) mkdirSync(root, { recursive: true });
  return { dir: join(root, top), args: want.length > 0 ? ['-xJf', LINUX_SOURCE_TARBALL, '-C', root, '--wildcards', ...want.map((p) => `${top}/${p}`)] : null };
}

/**
 * The uapi include folder: <linux/...> and <asm-generic/...> from the
 * system's installed kernel headers (linux-libc-dev), <drm/...> from
 * libdrm-dev's copy or the kernel sources', made ready for userspace as
 * `make headers_install` does (the __user annotations removed).
 */
function uapiIncludeDir(file: string): string {
  const dir = join(cacheDir(), 'uapi-include');
  if (existsSync(join(dir, 'drm', 'drm.h'))) return dir;
  if (!existsSync('/usr/include/linux/types.h')) throw new InputError(file, 0, 0, '', 'cannot build C: the kernel headers are not installed; `apt-get install linux-libc-dev`');
  const tmp = `${dir}.${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'drm'), { recursive: true });
  symlinkSync('/usr/include/linux', join(tmp, 'linux'));
  symlinkSync('/usr/include/asm-generic', join(tmp, 'asm-generic'));
  let drmDir = existsSync('/usr/include/libdrm/drm.h') ? '/usr/include/libdrm' : undefined;
  if (!drmDir) {
    const src = linuxSourceFiles(['include/uapi/drm/*']);
    if (src) drmDir = join(src, 'include/uapi/drm');
  }
  if (!drmDir) throw new InputError(file, 0, 0, '', 'cannot build C: no DRM uapi headers; `apt-get install libdrm-dev` (or linux-source-6.1)');
  for (const h of readdirSync(drmDir).filter((n) => n.endsWith('.h'))) {
    const text = readFileSync(join(drmDir, h), 'utf8')
      .replace(/([\s(])(__user|__force|__iomem)\s/g, '$1')
      .replace(/__attribute_const__(\s|$)/g, '$1');
    writeFileSync(join(tmp, 'drm', h), text);
  }
  try {
    renameSync(tmp, dir);
  } catch (e) {
    // another build made it meanwhile (the folder exists and is not empty)
    if (!(e instanceof Error && 'code' in e && (e.code === 'ENOTEMPTY' || e.code === 'EEXIST'))) throw e;
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** The clang flags every build uses (target, header layer, uapi headers). */
function compileFlags(file: string): string[] {
  const c = join(packageRoot(), 'c');
  // the stack pointer is exported so that fork can give the child the parent's
  return ['--target=wasm32-wasi', '-O2', '-g', '-mno-bulk-memory', '-mmutable-globals', '-D__linux__', '-D_WASI_EMULATED_GETPID', '-I', join(c, 'include'), '-isystem', uapiIncludeDir(file)];
}

/** How compileC builds (part of a cached build's key): a build made another way is not reused. */
const BUILD_STEPS = 'objects, link without -O, source map through wasm-opt';

/** Runs a tool; its stderr becomes the InputError of `file` when it fails (a compile error names its own file and line). */
function run(file: string, cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new InputError(file, 0, 0, '', `cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new InputError(file, 0, 0, '', `${basename(cmd)} failed:\n${(r.stderr || r.stdout).trimEnd()}`);
  return r.stdout;
}

/**
 * Compiles a C program into a unimem WebAssembly module at `out` (the
 * `unimem cc` command): clang for wasm32-wasi with the header layer and
 * the shim, then wasm-opt's memory instrumentation and asyncify.
 * `cflags` go to clang after unimem's own (-I, -D, -O).
 *
 * The module keeps where its code came from, so that a finding can name
 * the C line that caused it: the linker's DWARF line table becomes a
 * source map that wasm-opt carries through its passes (its own update of
 * the DWARF, where it has one, loses the line of calls asyncify wraps),
 * and the map lands in the module (wasm-source-map.ts). The sources are
 * compiled to objects and linked without -O, because at an optimising
 * link clang runs wasm-opt itself, which drops the function names and
 * moves the code under the line table. Flags ending with -g0 build
 * without either.
 */
export function compileC(sources: readonly string[], out: string, cflags: readonly string[] = []): void {
  const file = sources[0] ?? 'cc';
  const tc = findToolchain(file);
  checkClangTargets(file, tc.clang);
  const tmp = `${out}.${process.pid}`;
  const raw = `${tmp}.raw.wasm`;
  // the shim, pthreads and signals, linked before libc so that their definitions replace libc's
  const shim = ['shim.c', 'pthread.c', 'signal.c'].map((f) => join(packageRoot(), 'c', f));
  // the cflags go to the link too (-l, -Wl); those only one step uses are no error
  const flags = [...compileFlags(file), '-Wno-unused-command-line-argument', ...cflags];
  const debug = [...cflags].reverse().find((f) => /^-g/.test(f)) !== '-g0';
  try {
    mkdirSync(`${tmp}.o`, { recursive: true });
    const objects = [...sources, ...shim].map((src, i) => {
      const o = join(`${tmp}.o`, `${i}-${basename(src).replace(/\.[^.]*$/, '')}.o`);
      run(file, tc.clang, [...flags, '-c', src, '-o', o]);
      return o;
    });
    const link = ['--target=wasm32-wasi', '-Wno-unused-command-line-argument', ...cflags.filter((f) => !/^-O/.test(f))];
    run(file, tc.clang, [...link, ...objects, '-o', raw, `-Wl,--global-base=${C_GLOBAL_BASE}`, '-Wl,--export=__stack_pointer']);
    const map = debug ? dwarfToSourceMap(readFileSync(raw)) : undefined;
    if (map !== undefined) writeFileSync(`${tmp}.in.map`, map);
    const maps = map !== undefined ? ['--input-source-map', `${tmp}.in.map`, '--output-source-map', `${tmp}.out.map`, '-g', '--strip-dwarf'] : ['--strip-debug'];
    const imports = `asyncify-imports@${ASYNC_IMPORTS.join(',')}`;
    run(file, tc.wasmOpt, [raw, ...maps, '--instrument-memory', '--asyncify', '--pass-arg', imports, '-O1', '-o', out]);
    if (map !== undefined) writeFileSync(out, withSourceMap(readFileSync(out), readFileSync(`${tmp}.out.map`, 'utf8')));
  } finally {
    for (const f of [raw, `${tmp}.o`, `${tmp}.in.map`, `${tmp}.out.map`]) rmSync(f, { recursive: true, force: true });
  }
}

/** The files a source includes with quotes, found beside it, and theirs in turn (the local headers its build depends on). */
function localIncludes(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file) || !existsSync(file)) return seen;
  seen.add(file);
  for (const m of readFileSync(file, 'utf8').matchAll(/^\s*#\s*include\s*"([^"]+)"/gm)) localIncludes(resolve(dirname(file), m[1]!), seen);
  return seen;
}

/** unimem's own C files (the header layer and the shim), every build depends on. */
function ownCFiles(dir = join(packageRoot(), 'c')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? ownCFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

/** The C files of a program: the file itself, or every .c file of a folder (a selftest built from several files, as its Makefile links them). */
export function cProgramSources(source: string): string[] {
  const file = resolve(source);
  if (!existsSync(file)) throw new InputError(source, 0, 0, '', 'no such file');
  if (!statSync(file).isDirectory()) return [file];
  const files = readdirSync(file)
    .filter((n) => n.endsWith('.c'))
    .sort()
    .map((n) => join(file, n));
  if (files.length === 0) throw new InputError(source, 0, 0, '', 'no .c file in the folder');
  return files;
}

/**
 * The module built from a C file, or from the .c files of a folder,
 * compiled once per content: the key hashes the sources and the local
 * headers they include, unimem's header layer and shim, the flags and the
 * toolchain's files (no process is started when the build is cached);
 * builds land in the cache folder.
 */
export function cachedCBuild(source: string, cflags: readonly string[] = []): string {
  const sources = cProgramSources(source);
  const tc = findToolchain(source);
  const h = createHash('sha256');
  const local = new Set<string>();
  for (const f of sources) localIncludes(f, local);
  for (const f of [...local].sort()) h.update(f).update('\0').update(readFileSync(f)).update('\0');
  for (const f of ownCFiles().sort()) h.update(f.slice(packageRoot().length)).update('\0').update(readFileSync(f)).update('\0');
  for (const part of [cflags.join('\0'), tc.identity, String(C_GLOBAL_BASE), ASYNC_IMPORTS.join(','), BUILD_STEPS]) h.update(part).update('\0');
  const out = join(cacheDir(), 'c-build', `${basename(resolve(source), '.c')}-${h.digest('hex').slice(0, 16)}.wasm`);
  if (existsSync(out)) return out;
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  compileC(sources, tmp, cflags);
  renameSync(tmp, out);
  return out;
}
