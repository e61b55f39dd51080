import { hkdf } from './hkdf.js';

/*
 * The room's media keys. A facilitator's browser makes an epoch key for a generation (random,
 * `gen` a random 24-bit number) and hands it out; on each admission it ratchets the key one step
 * (HKDF, one way), so a newcomer given step s+1 cannot compute earlier steps. A departure, a
 * removal or the 10-minute timer starts a fresh generation, which nobody outside can derive.
 *
 * A frame's SFrame key id is `gen << 8 | step`. Each sender encrypts under its own key,
 * derived from the epoch key and its member id, so (key, nonce) pairs never repeat across
 * senders; a receiver knows the sender from the consumer the frame came on.
 */

export const EPOCH_KEY_BYTES = 32;
export const MAX_STEP = 255;
export const MAX_GEN = 0xffffff;

export interface KeyRef {
  gen: number;
  step: number;
}

export const kidOf = ({ gen, step }: KeyRef): bigint => (BigInt(gen) << 8n) | BigInt(step);

export function refOf(kid: bigint): KeyRef | null {
  if (kid < 0n || kid > (BigInt(MAX_GEN) << 8n) + 255n) return null;
  return { gen: Number(kid >> 8n), step: Number(kid & 0xffn) };
}

export const sameRef = (a: KeyRef | null | undefined, b: KeyRef | null | undefined): boolean => !!a && !!b && a.gen === b.gen && a.step === b.step;

/** The epoch key one step on. */
export function ratchet(epochKey: Uint8Array): Promise<Uint8Array> {
  return hkdf(epochKey, 'group-room/v1 ratchet', EPOCH_KEY_BYTES);
}

/** The epoch key `steps` steps on (at most MAX_STEP). */
export async function ratchetBy(epochKey: Uint8Array, steps: number): Promise<Uint8Array> {
  let key = epochKey;
  for (let i = 0; i < steps; i++) key = await ratchet(key);
  return key;
}

/** A sender's SFrame base key for one epoch key. */
export function senderBaseKey(epochKey: Uint8Array, senderId: string): Promise<Uint8Array> {
  return hkdf(epochKey, `group-room/v1 sender ${senderId}`, 32);
}

export function randomGen(avoid: Iterable<number> = []): number {
  const taken = new Set(avoid);
  for (;;) {
    const [n] = globalThis.crypto.getRandomValues(new Uint32Array(1));
    const gen = n! & MAX_GEN;
    if (!taken.has(gen)) return gen;
  }
}
