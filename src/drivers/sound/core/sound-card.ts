import { chrdevMinorInUse, type Vfs } from '../../../fs/index.ts';
import { kerr } from '../../../lib/index.ts';

/** Major number of ALSA device nodes (CONFIG_SND_MAJOR). */
const SND_MAJOR = 116;
/** Minors each card owns (SNDRV_MINOR_DEVICES). */
const SNDRV_MINOR_DEVICES = 32;
/** Cards the sound core holds (CONFIG_SND_MAX_CARDS's default). */
const SNDRV_CARDS = 32;

/**
 * The index of the next sound card (snd_card_new with idx -1): the first
 * slot none of whose minors is registered, so a second audio block becomes
 * card 1. ENODEV when every slot is taken, as snd_card_new says.
 */
export function sndCardFreeIndex(vfs: Vfs): number {
  for (let card = 0; card < SNDRV_CARDS; card++) {
    let used = false;
    for (let m = 0; m < SNDRV_MINOR_DEVICES && !used; m++) used = chrdevMinorInUse(vfs, SND_MAJOR, card * SNDRV_MINOR_DEVICES + m);
    if (!used) return card;
  }
  throw kerr('ENODEV', 'cannot find the slot for a new sound card');
}
