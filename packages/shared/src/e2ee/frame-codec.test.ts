import { beforeAll, describe, expect, it } from 'vitest';
import {
  clearPrefixLength,
  decryptFrame,
  encryptFrame,
  parseEnvelope,
  type DecryptFrameResult,
  type FrameCodec,
  type SenderKeysLookup,
} from './frame-codec.js';
import { decodeHeader, deriveSenderKeys, encodeHeader, sframeDecrypt, type SenderKeys } from './sframe.js';

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const bytes = (length: number, seed: number): Uint8Array =>
  Uint8Array.from({ length }, (_, i) => (i * 131 + seed * 17 + 7) & 0xff);

/** A VP8 frame: P bit 0 (key frame) or 1 (delta), the rest filler. */
function vp8(key: boolean, length: number): Uint8Array {
  const frame = bytes(length, key ? 1 : 2);
  if (length > 0) frame[0] = key ? 0x50 : 0x51;
  return frame;
}
/** An Opus frame: TOC byte then payload. */
function opus(length: number): Uint8Array {
  const frame = bytes(length, 3);
  if (length > 0) frame[0] = 0x78;
  return frame;
}

const KID = 0x0102n;
const OTHER_KID = 0x0103n;
let keys: SenderKeys;
let otherKeys: SenderKeys;
let keysFor: SenderKeysLookup;

beforeAll(async () => {
  const baseKey = bytes(32, 9);
  keys = await deriveSenderKeys(baseKey, KID);
  otherKeys = await deriveSenderKeys(baseKey, OTHER_KID);
  keysFor = (kid) => (kid === KID ? keys : undefined);
});

function frameOf(result: DecryptFrameResult): Uint8Array | null {
  return 'frame' in result ? result.frame : null;
}

describe('clear prefix', () => {
  it('VP8: 10 bytes when the P bit of byte 0 is 0 (key frame), 3 when it is 1, for every byte 0', () => {
    for (let first = 0; first < 256; first++) {
      const frame = bytes(200, first);
      frame[0] = first;
      expect(clearPrefixLength('vp8', frame), `byte 0 = ${first}`).toBe(first & 1 ? 3 : 10);
    }
  });

  it('VP8: capped at the frame length', () => {
    expect(clearPrefixLength('vp8', vp8(true, 10))).toBe(10);
    expect(clearPrefixLength('vp8', vp8(true, 9))).toBe(9);
    expect(clearPrefixLength('vp8', vp8(true, 1))).toBe(1);
    expect(clearPrefixLength('vp8', vp8(false, 2))).toBe(2);
    expect(clearPrefixLength('vp8', new Uint8Array(0))).toBe(0);
  });

  it('Opus: the TOC byte, whatever it says', () => {
    for (const toc of [0x00, 0x78, 0xf8, 0xfc, 0xff]) {
      const frame = opus(60);
      frame[0] = toc;
      expect(clearPrefixLength('opus', frame)).toBe(1);
    }
    expect(clearPrefixLength('opus', opus(1))).toBe(1);
    expect(clearPrefixLength('opus', new Uint8Array(0))).toBe(0);
  });
});

describe('encryptFrame', () => {
  const cases: [string, FrameCodec, Uint8Array, number][] = [
    ['VP8 key frame', 'vp8', vp8(true, 1200), 10],
    ['VP8 delta frame', 'vp8', vp8(false, 300), 3],
    ['Opus frame', 'opus', opus(80), 1],
    ['Opus TOC-only (DTX) frame', 'opus', opus(1), 1],
  ];

  for (const [name, codec, frame, prefixLength] of cases) {
    it(`${name}: clear prefix ‖ SFrame header ‖ ciphertext ‖ tag, prefix authenticated as metadata`, async () => {
      const ctr = 0x1234n;
      const wire = await encryptFrame(frame, codec, KID, ctr, keys);
      const header = encodeHeader(KID, ctr);
      expect(wire.length).toBe(frame.length + header.length + 16);
      expect(toHex(wire.subarray(0, prefixLength))).toBe(toHex(frame.subarray(0, prefixLength)));
      expect(toHex(wire.subarray(prefixLength, prefixLength + header.length))).toBe(toHex(header));
      // Nothing after the prefix is the plaintext.
      const body = wire.subarray(prefixLength + header.length, wire.length - 16);
      const rest = frame.subarray(prefixLength);
      if (rest.length > 8) expect(toHex(body)).not.toBe(toHex(rest));
      // The part after the prefix is a plain RFC 9605 ciphertext whose metadata is the prefix.
      const opened = await sframeDecrypt(
        keys,
        wire.subarray(prefixLength, prefixLength + header.length),
        frame.subarray(0, prefixLength),
        wire.subarray(prefixLength + header.length),
      );
      expect(opened && toHex(opened)).toBe(toHex(rest));
      expect(
        await sframeDecrypt(keys, header, new Uint8Array(0), wire.subarray(prefixLength + header.length)),
      ).toBeNull();
    });
  }

  it('returns a buffer of its own, starting at offset 0 (ready for frame.data = wire.buffer)', async () => {
    const wire = await encryptFrame(vp8(true, 100), 'vp8', KID, 1n, keys);
    expect(wire.byteOffset).toBe(0);
    expect(wire.buffer.byteLength).toBe(wire.length);
  });

  it('seals empty frames too: nothing leaves in the clear', async () => {
    for (const codec of ['vp8', 'opus'] as const) {
      const wire = await encryptFrame(new Uint8Array(0), codec, KID, 5n, keys);
      expect(wire.length).toBe(encodeHeader(KID, 5n).length + 16);
      expect(decodeHeader(wire)).toEqual({ kid: KID, ctr: 5n, length: 3 });
    }
  });

  it('refuses (so the caller drops the frame) when it cannot encrypt', async () => {
    await expect(encryptFrame(opus(40), 'opus', -1n, 0n, keys)).rejects.toThrow();
    const receiveOnly = await deriveSenderKeys(bytes(32, 9), KID, 'decrypt');
    await expect(encryptFrame(opus(40), 'opus', KID, 0n, receiveOnly)).rejects.toThrow();
  });
});

describe('parseEnvelope', () => {
  it('splits a sealed frame', async () => {
    const frame = vp8(false, 50);
    const wire = await encryptFrame(frame, 'vp8', KID, 300n, keys);
    const envelope = parseEnvelope(wire, 'vp8');
    expect(envelope).not.toBeNull();
    expect(toHex(envelope?.prefix ?? new Uint8Array(0))).toBe(toHex(frame.subarray(0, 3)));
    expect(envelope?.header).toEqual({ kid: KID, ctr: 300n, length: 5 });
    expect(envelope?.body.length).toBe(47 + 16);
  });

  it('accepts the smallest envelope and refuses anything shorter', async () => {
    const toc = await encryptFrame(opus(1), 'opus', 1n, 1n, keys);
    expect(toc.length).toBe(1 + 1 + 16);
    expect(parseEnvelope(toc, 'opus')?.body.length).toBe(16);
    for (let cut = 0; cut < toc.length; cut++) expect(parseEnvelope(toc.subarray(0, cut), 'opus')).toBeNull();
  });

  it('VP8: the prefix length follows the P bit of byte 0', () => {
    // A key-frame byte 0 needs 10 clear bytes + header + tag; 3 + header + tag is impossible.
    const delta = new Uint8Array(3 + 1 + 16);
    delta[0] = 0x51;
    expect(parseEnvelope(delta, 'vp8')?.prefix.length).toBe(3);
    const key = delta.slice();
    key[0] = 0x50;
    expect(parseEnvelope(key, 'vp8')).toBeNull();
    const longKey = new Uint8Array(10 + 1 + 16);
    longKey[0] = 0x50;
    expect(parseEnvelope(longKey, 'vp8')?.prefix.length).toBe(10);
  });

  it('refuses a malformed header', () => {
    const data = new Uint8Array(1 + 2 + 16);
    data.set([0x78, 0x80, 0x05]); // KID 5 in an extension byte: not minimal.
    expect(parseEnvelope(data, 'opus')).toBeNull();
  });
});

describe('decryptFrame', () => {
  const frames: [string, FrameCodec, Uint8Array][] = [
    ['VP8 key frame', 'vp8', vp8(true, 5000)],
    ['VP8 key frame of exactly 10 bytes', 'vp8', vp8(true, 10)],
    ['VP8 delta frame', 'vp8', vp8(false, 700)],
    ['VP8 delta frame of exactly 3 bytes', 'vp8', vp8(false, 3)],
    ['Opus frame', 'opus', opus(120)],
    ['Opus TOC-only frame', 'opus', opus(1)],
    ['empty VP8 frame', 'vp8', new Uint8Array(0)],
    ['empty Opus frame', 'opus', new Uint8Array(0)],
  ];

  for (const [name, codec, frame] of frames) {
    it(`round-trips: ${name}`, async () => {
      for (const ctr of [0n, 7n, 8n, 0xffffn, 0xffff_ffff_ffffn]) {
        const wire = await encryptFrame(frame, codec, KID, ctr, keys);
        const result = await decryptFrame(wire, codec, keysFor);
        expect(result).toMatchObject({ kid: KID });
        const out = frameOf(result);
        expect(out && toHex(out)).toBe(toHex(frame));
        // A fresh buffer of its own, ready for frame.data = out.buffer.
        expect(out?.byteOffset).toBe(0);
        expect(out?.buffer.byteLength).toBe(frame.length);
      }
    });
  }

  it('round-trips a large video frame', async () => {
    const frame = vp8(true, 200_000);
    const result = await decryptFrame(await encryptFrame(frame, 'vp8', KID, 1n, keys), 'vp8', keysFor);
    expect(frameOf(result)).toEqual(frame);
  });

  it('accepts a key lookup that returns a promise', async () => {
    const wire = await encryptFrame(opus(30), 'opus', KID, 3n, keys);
    const result = await decryptFrame(wire, 'opus', async (kid) => (kid === KID ? keys : undefined));
    expect(frameOf(result)).toEqual(opus(30));
  });

  it('refuses an unknown KID, and a key lookup that throws', async () => {
    const wire = await encryptFrame(opus(30), 'opus', OTHER_KID, 3n, otherKeys);
    expect(await decryptFrame(wire, 'opus', keysFor)).toEqual({ error: 'unknown-key' });
    const throwing: SenderKeysLookup = () => {
      throw new Error('key store gone');
    };
    expect(await decryptFrame(wire, 'opus', throwing)).toEqual({ error: 'unknown-key' });
    const rejecting: SenderKeysLookup = () => Promise.reject(new Error('key store gone'));
    expect(await decryptFrame(wire, 'opus', rejecting)).toEqual({ error: 'unknown-key' });
  });

  it('refuses the wrong key for a KID', async () => {
    const wire = await encryptFrame(opus(30), 'opus', KID, 3n, keys);
    expect(await decryptFrame(wire, 'opus', () => otherKeys)).toEqual({ error: 'auth' });
  });

  it('refuses a frame decrypted as the other codec', async () => {
    const wire = await encryptFrame(vp8(true, 100), 'vp8', KID, 3n, keys);
    expect(frameOf(await decryptFrame(wire, 'opus', keysFor))).toBeNull();
  });

  it('refuses every single-bit flip: prefix, header, ciphertext and tag', async () => {
    const cases: [FrameCodec, Uint8Array][] = [
      ['vp8', vp8(true, 24)],
      ['vp8', vp8(false, 12)],
      ['opus', opus(12)],
      ['opus', opus(1)],
      ['opus', new Uint8Array(0)],
    ];
    for (const [codec, frame] of cases) {
      const wire = await encryptFrame(frame, codec, KID, 0x4567n, keys);
      for (let i = 0; i < wire.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const tampered = wire.slice();
          tampered[i] = (tampered[i] ?? 0) ^ (1 << bit);
          const result = await decryptFrame(tampered, codec, keysFor);
          expect(frameOf(result), `${codec} ${frame.length} B: byte ${i} bit ${bit}`).toBeNull();
          expect(result).toHaveProperty('error');
        }
      }
    }
  });

  it('reports which part was wrong', async () => {
    const frame = vp8(false, 40);
    const wire = await encryptFrame(frame, 'vp8', KID, 0x4567n, keys);
    const flipped = (index: number) => {
      const copy = wire.slice();
      copy[index] = (copy[index] ?? 0) ^ 0x80;
      return copy;
    };
    expect(await decryptFrame(flipped(1), 'vp8', keysFor)).toEqual({ error: 'auth' }); // prefix
    expect(await decryptFrame(flipped(wire.length - 20), 'vp8', keysFor)).toEqual({ error: 'auth' }); // ciphertext
    expect(await decryptFrame(flipped(wire.length - 1), 'vp8', keysFor)).toEqual({ error: 'auth' }); // tag
    expect(await decryptFrame(flipped(3), 'vp8', keysFor)).toEqual({ error: 'unknown-key' }); // config byte: KID changes
    const badHeader = wire.slice();
    badHeader[3] = 0x88; // KID in one extension byte...
    badHeader[4] = 0x01; // ...below 8: not minimal.
    expect(await decryptFrame(badHeader, 'vp8', keysFor)).toEqual({ error: 'header' });
    expect(await decryptFrame(wire.subarray(0, 3 + 3 + 15), 'vp8', keysFor)).toEqual({ error: 'short' });
    expect(await decryptFrame(new Uint8Array(0), 'vp8', keysFor)).toEqual({ error: 'short' });
  });

  it('refuses every truncation and every extension by one byte', async () => {
    for (const [codec, frame] of [
      ['vp8', vp8(true, 30)],
      ['vp8', vp8(false, 30)],
      ['opus', opus(30)],
      ['opus', opus(1)],
    ] as const) {
      const wire = await encryptFrame(frame, codec, KID, 9n, keys);
      for (let cut = 0; cut < wire.length; cut++) {
        expect(frameOf(await decryptFrame(wire.subarray(0, cut), codec, keysFor)), `${codec} cut ${cut}`).toBeNull();
      }
      const longer = new Uint8Array(wire.length + 1);
      longer.set(wire);
      expect(frameOf(await decryptFrame(longer, codec, keysFor))).toBeNull();
    }
  });

  it('never returns unauthenticated bytes, whatever it is given', async () => {
    // Plaintext frames as a sender without E2EE would send them, and random junk.
    for (const data of [vp8(true, 500), vp8(false, 40), opus(60), opus(1), bytes(17, 1), bytes(33, 2)]) {
      for (const codec of ['vp8', 'opus'] as const) {
        const result = await decryptFrame(data, codec, () => keys);
        expect(result).toHaveProperty('error');
      }
    }
  });

  it('never throws, even for an unknown codec from untyped code', async () => {
    const wire = await encryptFrame(opus(30), 'opus', KID, 3n, keys);
    const result = await decryptFrame(wire, 'h264' as FrameCodec, keysFor);
    expect(result).toEqual({ error: 'header' });
    expect(parseEnvelope(wire, 'h264' as FrameCodec)).toBeNull();
  });
});
