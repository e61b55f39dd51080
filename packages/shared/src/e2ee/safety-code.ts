import { hkdf } from './hkdf.js';

/*
 * A short code everyone holding the same media key sees alike: the facilitator reads it aloud
 * and each member compares. A server sitting in the middle would have to hand out keys of its
 * own, and the codes would differ. Six words from 64 (36 bits): enough that a substitution
 * cannot be arranged to match, short enough to say in a breath.
 */

const WORDS = [
  'apple', 'badger', 'cactus', 'dolphin', 'ember', 'falcon', 'garden', 'harbor',
  'island', 'jacket', 'kettle', 'lemon', 'meadow', 'needle', 'orchid', 'pepper',
  'quartz', 'rabbit', 'saddle', 'tulip', 'umbrella', 'violin', 'walnut', 'yellow',
  'anchor', 'bamboo', 'candle', 'desert', 'engine', 'forest', 'guitar', 'hammer',
  'igloo', 'jungle', 'kitten', 'ladder', 'marble', 'nickel', 'otter', 'pillow',
  'rocket', 'silver', 'tiger', 'velvet', 'window', 'zebra', 'acorn', 'button',
  'cherry', 'dragon', 'eagle', 'feather', 'ginger', 'honey', 'ivory', 'jigsaw',
  'koala', 'lantern', 'mango', 'nutmeg', 'oyster', 'parrot', 'river', 'sunset',
] as const;

export async function safetyCode(epochKey: Uint8Array): Promise<string[]> {
  const bytes = await hkdf(epochKey, 'group-room/v1 safety code', 6);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  const words: string[] = [];
  for (let i = 0; i < 6; i++) words.push(WORDS[Number((bits >> BigInt(42 - 6 * i)) & 63n)]!);
  return words;
}
