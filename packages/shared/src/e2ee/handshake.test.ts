import { describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url, utf8 } from './bytes.js';
import { checkHello, decodeWire, encodeWire, makeHello, newEphemeral, open, pairKey, preferredAlgorithm, seal } from './handshake.js';
import { kidOf, ratchet, ratchetBy, refOf } from './key-schedule.js';
import { safetyCode } from './safety-code.js';
import { facilitatorSecret, inviteSecret, linkSecretFrom, newRoomSecret, parseSecret } from './secrets.js';

const roomId = 'room-0123456789';

async function pair(alg: 'X25519' | 'P-256') {
  const room = parseSecret(newRoomSecret())!;
  const invite = await inviteSecret(room, 'invite-1');
  const facilitator = await newEphemeral(alg);
  const member = await newEphemeral(alg);
  const toF = { roomId, from: 'm1', to: 'f1' };
  const toM = { roomId, from: 'f1', to: 'm1' };
  return { room, invite, facilitator, member, toF, toM };
}

describe('the pairwise handshake', () => {
  for (const alg of ['X25519', 'P-256'] as const) {
    it(`agrees on a key both ways and seals messages (${alg})`, async () => {
      const { room, invite, facilitator, member, toF, toM } = await pair(alg);
      const hello = await makeHello(invite, toF, member, false);
      // The facilitator recomputes the invite secret from the room secret and the invite id.
      const recomputed = await inviteSecret(room, 'invite-1');
      const memberPub = await checkHello(recomputed, toF, hello);
      expect(memberPub).not.toBeNull();
      const answer = await makeHello(recomputed, toM, facilitator, true);
      const facilitatorPub = await checkHello(invite, toM, answer);
      expect(facilitatorPub).not.toBeNull();
      const kF = await pairKey(recomputed, toM, facilitator, memberPub!);
      const kM = await pairKey(invite, toF, member, facilitatorPub!);
      const sealed = await seal(kF, toM, { k: 'ack', gen: 7 });
      expect(await open(kM, toM, sealed as { iv: string; ct: string })).toEqual({ k: 'ack', gen: 7 });
      // Not as a message in the other direction (a reflection), and not with another pair's key.
      expect(await open(kM, toF, sealed as { iv: string; ct: string })).toBeNull();
    });
  }

  it('refuses a hello whose public key was swapped, or addressed to someone else, or made with another link', async () => {
    const { invite, member, toF } = await pair('X25519');
    const hello = await makeHello(invite, toF, member, false);
    const other = await newEphemeral('X25519');
    expect(await checkHello(invite, toF, { ...hello, pub: toBase64url(other.publicRaw) })).toBeNull();
    expect(await checkHello(invite, { ...toF, to: 'f2' }, hello)).toBeNull();
    expect(await checkHello(invite, { ...toF, from: 'm2' }, hello)).toBeNull();
    const otherInvite = await inviteSecret(parseSecret(newRoomSecret())!, 'invite-1');
    expect(await checkHello(otherInvite, toF, hello)).toBeNull();
  });

  it('refuses a tampered sealed message', async () => {
    const { invite, member, facilitator, toF } = await pair('X25519');
    const k = await pairKey(invite, toF, member, facilitator.publicRaw);
    const sealed = (await seal(k, toF, { k: 'message', text: 'hello' })) as { t: 'sealed'; iv: string; ct: string };
    const ct = fromBase64url(sealed.ct)!;
    ct[0]! ^= 1;
    expect(await open(k, toF, { iv: sealed.iv, ct: toBase64url(ct) })).toBeNull();
  });

  it('encodes relayed blobs as base64url and refuses anything else', () => {
    const blob = encodeWire({ t: 'hello', alg: 'X25519', pub: 'abc', mac: 'def', reply: false });
    expect(blob).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeWire(blob)).toMatchObject({ t: 'hello' });
    expect(decodeWire('not json')).toBeNull();
    expect(decodeWire(toBase64url(utf8('{"t":"other"}')))).toBeNull();
  });

  it('has X25519 in Node', async () => {
    expect(await preferredAlgorithm()).toBe('X25519');
  });
});

describe('secrets and keys', () => {
  it('derives distinct invite and facilitator secrets, and reads them from a fragment', async () => {
    const room = parseSecret(newRoomSecret())!;
    const a = await inviteSecret(room, 'a');
    const b = await inviteSecret(room, 'b');
    expect(toBase64url(a)).not.toBe(toBase64url(b));
    expect(toBase64url(await facilitatorSecret(room))).not.toBe(toBase64url(a));
    const secret = newRoomSecret();
    expect(linkSecretFrom(new URLSearchParams(`k=token&s=${secret}`))).toEqual({ kind: 'room', secret });
    expect(linkSecretFrom(new URLSearchParams(`k=token&i=${secret}`))).toEqual({ kind: 'invite', secret });
    expect(linkSecretFrom(new URLSearchParams(`k=token&i=${secret.slice(0, 20)}`))).toBeNull();
  });

  it('ratchets one way, and lays out key ids as gen and step', async () => {
    const key = parseSecret(newRoomSecret())!;
    const two = await ratchetBy(key, 2);
    expect(toBase64url(await ratchet(await ratchet(key)))).toBe(toBase64url(two));
    expect(refOf(kidOf({ gen: 0xabcdef, step: 3 }))).toEqual({ gen: 0xabcdef, step: 3 });
    expect(kidOf({ gen: 1, step: 0 })).toBe(256n);
  });

  it('gives the same safety code for the same key and another for another', async () => {
    const key = parseSecret(newRoomSecret())!;
    const code = await safetyCode(key);
    expect(code).toHaveLength(6);
    expect(await safetyCode(key)).toEqual(code);
    expect(await safetyCode(await ratchet(key))).not.toEqual(code);
  });
});
