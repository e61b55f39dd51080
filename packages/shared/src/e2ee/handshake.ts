import { buf, equalBytes, fromBase64url, fromUtf8, labelled, randomBytes, toBase64url, utf8 } from './bytes.js';
import { hkdf, hmacSha256 } from './hkdf.js';
import { Sealed, Wire, type Hello, type KeyAlgorithm } from './messages.js';

/*
 * The pairwise handshake between two browsers in a room, one of which holds the room secret.
 * Each page makes an ephemeral key pair (X25519 where WebCrypto has it, P-256 otherwise) and
 * sends its public key with a MAC under a key derived from the pair's link secret: the member's
 * invite secret (which the facilitator's browser recomputes from the room secret), or, between
 * two facilitator devices, a secret derived from the room secret. A server that swaps a public
 * key cannot make the MAC. The pair key comes from ECDH of the two ephemeral keys, salted with
 * the link secret, so a link that leaks later does not open what was sealed before.
 */

const subtle = () => globalThis.crypto.subtle;
/** WebCrypto's key type, as both Node's and the DOM's typings name it. */
export type CryptoKey = Awaited<ReturnType<typeof globalThis.crypto.subtle.importKey>>;
type KeyPair = { privateKey: CryptoKey; publicKey: CryptoKey };
const LABEL = 'group-room/v1';

export interface Ephemeral {
  alg: KeyAlgorithm;
  privateKey: CryptoKey;
  publicRaw: Uint8Array;
}

const params = (alg: KeyAlgorithm) => (alg === 'X25519' ? { name: 'X25519' } : { name: 'ECDH', namedCurve: 'P-256' });

export async function newEphemeral(alg: KeyAlgorithm): Promise<Ephemeral> {
  const pair = (await subtle().generateKey(params(alg), false, ['deriveBits'])) as KeyPair;
  const publicRaw = new Uint8Array(await subtle().exportKey('raw', pair.publicKey));
  return { alg, privateKey: pair.privateKey, publicRaw };
}

/** X25519 where this WebCrypto has it, P-256 otherwise. */
export async function preferredAlgorithm(): Promise<KeyAlgorithm> {
  try {
    await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']);
    return 'X25519';
  } catch {
    return 'P-256';
  }
}

export interface PairIds {
  roomId: string;
  from: string;
  to: string;
}

async function helloMac(pairSecret: Uint8Array, ids: PairIds, alg: KeyAlgorithm, pub: Uint8Array): Promise<Uint8Array> {
  const authKey = await hkdf(pairSecret, `${LABEL} auth`, 32);
  return hmacSha256(authKey, labelled(`${LABEL} hello`, ids.roomId, ids.from, ids.to, alg, pub));
}

export async function makeHello(pairSecret: Uint8Array, ids: PairIds, own: Ephemeral, reply: boolean): Promise<Hello> {
  const mac = await helloMac(pairSecret, ids, own.alg, own.publicRaw);
  return { t: 'hello', alg: own.alg, pub: toBase64url(own.publicRaw), mac: toBase64url(mac), reply };
}

/** The public key in a hello whose MAC holds for these ids, or null. */
export async function checkHello(pairSecret: Uint8Array, ids: PairIds, hello: Hello): Promise<Uint8Array | null> {
  const pub = fromBase64url(hello.pub);
  const mac = fromBase64url(hello.mac);
  if (!pub || !mac) return null;
  const expected = await helloMac(pairSecret, ids, hello.alg, pub);
  return equalBytes(mac, expected) ? pub : null;
}

/**
 * The pair's AES-GCM key: ECDH of our ephemeral key with theirs, salted with the link secret,
 * bound to the room, both ids and both public keys (in id order, so both sides agree).
 */
export async function pairKey(pairSecret: Uint8Array, ids: PairIds, own: Ephemeral, theirPub: Uint8Array): Promise<CryptoKey> {
  const publicKey = await subtle().importKey('raw', buf(theirPub), params(own.alg), false, []);
  const shared = new Uint8Array(await subtle().deriveBits({ name: own.alg === 'X25519' ? 'X25519' : 'ECDH', public: publicKey }, own.privateKey, 256));
  const [lo, hi] = ids.from < ids.to ? [ids.from, ids.to] : [ids.to, ids.from];
  const [pubLo, pubHi] = ids.from < ids.to ? [own.publicRaw, theirPub] : [theirPub, own.publicRaw];
  const raw = await hkdf(shared, labelled(`${LABEL} pair`, ids.roomId, lo, hi, pubLo, pubHi), 32, pairSecret);
  return subtle().importKey('raw', buf(raw), 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/** Bound to direction too, so a sealed message cannot be sent back to its sender as theirs. */
const sealAad = (ids: PairIds) => labelled(`${LABEL} sealed`, ids.roomId, ids.from, ids.to);

/**
 * A private message's or check-out answer's plaintext is padded with zero bytes to a multiple of
 * this, so its box's length tells the server nothing (a follow-up asked for, how long the words
 * are). Every one fits in one (280 characters at most: 4 bytes each at worst, a quote escaped in
 * the answer's JSON and again in the message's), and the box stays well under SEALED_BLOB_MAX.
 */
export const MESSAGE_PAD_BYTES = 1536;

function plaintext(message: Sealed): Uint8Array {
  if (message.k !== 'message') return utf8(JSON.stringify(message));
  const json = utf8(JSON.stringify({ ...message, text: wellFormed(message.text) }));
  // JSON.stringify never writes a zero byte, so the padding is told apart on opening.
  const padded = new Uint8Array(Math.max(1, Math.ceil(json.length / MESSAGE_PAD_BYTES)) * MESSAGE_PAD_BYTES);
  padded.set(json);
  return padded;
}

/** Without the padding (trailing zero bytes). */
function unpadded(plain: Uint8Array): Uint8Array {
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end--;
  return plain.subarray(0, end);
}

export async function seal(key: CryptoKey, ids: PairIds, message: Sealed): Promise<Wire> {
  const iv = randomBytes(12);
  const ct = await subtle().encrypt({ name: 'AES-GCM', iv: buf(iv), additionalData: buf(sealAad(ids)) }, key, buf(plaintext(message)));
  return { t: 'sealed', iv: toBase64url(iv), ct: toBase64url(new Uint8Array(ct)) };
}

/** A text with any lone surrogate replaced by U+FFFD (JSON would escape it into six bytes). */
export const wellFormed = (text: string): string => text.replace(/\p{Cs}/gu, '\ufffd');

/** The message inside, or null when it does not open (wrong key, tampered, malformed). */
export async function open(key: CryptoKey, ids: PairIds, envelope: { iv: string; ct: string }): Promise<Sealed | null> {
  const iv = fromBase64url(envelope.iv);
  const ct = fromBase64url(envelope.ct);
  if (!iv || iv.length !== 12 || !ct) return null;
  try {
    const plain = await subtle().decrypt({ name: 'AES-GCM', iv: buf(iv), additionalData: buf(sealAad(ids)) }, key, buf(ct));
    const parsed = Sealed.safeParse(JSON.parse(fromUtf8(unpadded(new Uint8Array(plain)))));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** A relayed blob: the wire message as base64url JSON. */
export const encodeWire = (wire: Wire): string => toBase64url(utf8(JSON.stringify(wire)));

export function decodeWire(blob: string): Wire | null {
  const bytes = fromBase64url(blob);
  if (!bytes) return null;
  try {
    const parsed = Wire.safeParse(JSON.parse(fromUtf8(bytes)));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
