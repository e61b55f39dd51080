import { describe, expect, it } from 'vitest';
import { CheckoutAnswer, CHECKOUT_SCALE, CHECKOUT_WORDS_MAX } from '../checkout.js';
import { SEALED_BLOB_MAX } from '../e2ee-relay.js';
import { PRIVATE_MESSAGE_MAX, PrivateMessageText } from '../signals.js';
import { buf, randomBytes } from './bytes.js';
import { decodeWire, encodeWire, open, seal, wellFormed, type CryptoKey } from './handshake.js';

/*
 * The server relays the boxes of private messages and check-out answers and sees their length:
 * it must learn nothing from it (whether a follow-up was asked for, how long the words are).
 */

const ids = { roomId: 'r'.repeat(64), from: 'm'.repeat(64), to: 'f'.repeat(64) };

async function key(): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey('raw', buf(randomBytes(32)), 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/** Words of `n` code units made of `unit` (normalised as the page does), or null for none. */
function words(unit: string, n: number): string | null {
  if (n === 0) return null;
  const raw = wellFormed(unit.repeat(Math.ceil(n / unit.length)).slice(0, n));
  return PrivateMessageText.parse(raw);
}

// ASCII, the two characters JSON escapes (twice, once in the answer and once in the box), three-byte
// UTF-8, a four-byte emoji (two code units), and lone surrogates (made well-formed before sealing).
const UNITS = ['x', '"', '\\', '€', '😀', '\ud800', '\udc00x'];

describe('sealed messages are all the same length', () => {
  it('every check-out answer seals to a box of one length, well under the relay limit', async () => {
    const k = await key();
    const lengths = new Set<number>();
    const checkoutIds = ['c', 'c'.repeat(64)];
    for (const checkoutId of checkoutIds)
      for (const { value: rating } of CHECKOUT_SCALE)
        for (const followUp of [false, true])
          for (const unit of UNITS)
            for (let n = 0; n <= CHECKOUT_WORDS_MAX; n += unit === 'x' && checkoutId === 'c' ? 1 : 7) {
              const answer = CheckoutAnswer.parse({ checkoutId, rating, words: words(unit, n), followUp });
              const box = encodeWire(await seal(k, ids, { k: 'message', text: JSON.stringify(answer) }));
              lengths.add(box.length);
            }
    expect([...lengths]).toHaveLength(1);
    expect([...lengths][0]).toBeLessThan(SEALED_BLOB_MAX * 0.8);
  });

  it('every private message seals to a box of the same length as an answer, and opens as it was', async () => {
    const k = await key();
    const answer = encodeWire(await seal(k, ids, { k: 'message', text: JSON.stringify({ checkoutId: 'c', rating: 3, words: null, followUp: false }) }));
    const lengths = new Set<number>([answer.length]);
    for (const unit of UNITS)
      for (let n = 1; n <= PRIVATE_MESSAGE_MAX; n += unit === 'x' ? 1 : 3) {
        const text = words(unit, n)!;
        const box = encodeWire(await seal(k, ids, { k: 'message', text }));
        lengths.add(box.length);
        const wire = decodeWire(box);
        expect(wire?.t).toBe('sealed');
        if (wire?.t === 'sealed') expect(await open(k, ids, wire)).toEqual({ k: 'message', text });
      }
    expect([...lengths]).toHaveLength(1);
  });

  it('a lone surrogate becomes U+FFFD (it would otherwise be escaped into six bytes)', () => {
    expect(wellFormed('a\ud800b\udc00😀')).toBe('a\ufffdb\ufffd😀');
  });

  it('other sealed messages (keys, acknowledgements) are not padded', async () => {
    const k = await key();
    const ack = encodeWire(await seal(k, ids, { k: 'ack', gen: 1 }));
    expect(ack.length).toBeLessThan(200);
    const wire = decodeWire(ack);
    if (wire?.t === 'sealed') expect(await open(k, ids, wire)).toEqual({ k: 'ack', gen: 1 });
  });
});
