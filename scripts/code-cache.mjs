// Makes the code cache of the command script given (dist/cli.cjs, see
// bin/cli-bundle.mjs): runs the default scenario and video-playback (the
// decoder, ISP, GPU and their checker, which the default does not reach)
// for a few frames through it, then writes the code V8 compiled for them.
// A video-playback run from the cache compiled 7 to 8% less of its wall
// time away; the default's start did not move. Run by the build
// (scripts/build-options.mjs), in a process of its own.
import { loadCliBundle } from '../bin/cli-bundle.mjs';

const file = process.argv[2];
if (!file) throw new Error('usage: code-cache.mjs <dist/cli.cjs>');
const bundle = loadCliBundle(file);
for (const scenario of ['camera-preview', 'video-playback']) {
  const code = await bundle.exports.main(['run', scenario, '--frames', '4']);
  if (code !== 0) throw new Error(`the warm-up run of ${scenario} exited ${code}`);
}
bundle.writeCache();
