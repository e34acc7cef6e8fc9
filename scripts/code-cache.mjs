// Makes the code cache of the command script given (dist/cli.cjs, see
// bin/cli-bundle.mjs): runs the default scenario for a few frames through
// it, then writes the code V8 compiled for it. Run by the build
// (scripts/build-options.mjs), in a process of its own.
import { loadCliBundle } from '../bin/cli-bundle.mjs';

const file = process.argv[2];
if (!file) throw new Error('usage: code-cache.mjs <dist/cli.cjs>');
const bundle = loadCliBundle(file);
const code = await bundle.exports.main(['run', 'camera-preview', '--frames', '4']);
if (code !== 0) throw new Error(`the warm-up run exited ${code}`);
bundle.writeCache();
