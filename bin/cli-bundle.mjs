// The command as one CommonJS script (dist/cli.cjs), compiled from V8's code
// cache (dist/cli.cjs.cache) when the build left one. Node 20 keeps no code
// cache for ES modules, so a start compiled the command's 2 MB of
// JavaScript every time, a fifth of a short run; from the cache, V8 reads
// the bytecode a warm-up run compiled instead. A cache V8 refuses (another
// Node, other flags) or one older than the script is not used: the script
// then compiles as any other would.
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import vm from 'node:vm';

/**
 * Loads the command script at `file` (a path), with its code cache when it
 * is current. Returns the script's exports and `writeCache`, which writes
 * the code V8 holds for the script now (what has run so far) as its cache.
 */
export function loadCliBundle(file) {
  const cacheFile = `${file}.cache`;
  const cachedData = existsSync(cacheFile) && statSync(cacheFile).mtimeMs >= statSync(file).mtimeMs ? readFileSync(cacheFile) : undefined;
  // the CommonJS wrapper on the script's first line, as Node's own loader puts it, so that lines keep their numbers for the source map
  const source = `(function (exports, require, module, __filename, __dirname) { ${readFileSync(file, 'utf8')}\n})`;
  // Node 20 runs no import() from a vm script (not without --experimental-vm-modules): the command's code has none
  // on its paths, and `unimem exec`, which imports the program, runs from the modules (bin/unimem.mjs)
  const script = new vm.Script(source, { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return {
    exports: module.exports,
    cacheRejected: cachedData !== undefined && script.cachedDataRejected === true,
    writeCache() {
      // whole or not at all: a start that reads the file while it is written must not see half of it
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
    },
  };
}
