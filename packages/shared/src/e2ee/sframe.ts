/*
 * RFC 9605 SFrame, cipher suite AES_128_GCM_SHA256_128 (0x0004) only, on WebCrypto.
 *
 * Pure TypeScript over `globalThis.crypto.subtle`, so the same file runs in Node 20 (tests) and
 * in an encoded-transform worker in Chromium and Firefox. No DOM types: the key type is taken
 * from the global `crypto`, which is the DOM's in a browser build and node:crypto's in Node.
 */

/** The one cipher suite implemented (RFC 9605 §4.5): AES-128-GCM, 16-byte tag, HKDF-SHA256. */
export const SFRAME_CIPHER_SUITE = 0x0004;
/** AEAD.Nk: bytes of `sframe_key`. */
export const SFRAME_KEY_LENGTH = 16;
/** AEAD.Nn: bytes of `sframe_salt` and of the nonce. */
export const SFRAME_NONCE_LENGTH = 12;
/** AEAD.Nt: bytes of the GCM tag at the end of every ciphertext. */
export const SFRAME_TAG_LENGTH = 16;
/** Config byte plus an 8-byte KID and an 8-byte CTR. */
export const SFRAME_MAX_HEADER_LENGTH = 17;

/** The largest KID or CTR: both are 64-bit unsigned in RFC 9605. */
export const SFRAME_MAX_U64 = 0xffff_ffff_ffff_ffffn;

/** WebCrypto's CryptoKey, spelled through the global so it fits both the DOM and Node typings. */
export type WebCryptoKey = Awaited<ReturnType<typeof globalThis.crypto.subtle.importKey>>;

/** The per-KID material of RFC 9605 §4.4.2. */
export interface SenderKeys {
  /** `sframe_key`: AES-128-GCM, non-extractable. */
  readonly key: WebCryptoKey;
  /** `sframe_salt`: SFRAME_NONCE_LENGTH bytes. */
  readonly salt: Uint8Array;
}

/** A decoded SFrame header; `length` is how many bytes it took on the wire. */
export interface SframeHeader {
  readonly kid: bigint;
  readonly ctr: bigint;
  readonly length: number;
}

/**
 * Which operations the derived key allows. RFC 9605 §4.4.1 wants each base_key used for
 * encryption or decryption, never both; a receiver that derives with 'decrypt' cannot seal with
 * another member's key by mistake (which would repeat that member's nonces).
 */
export type SframeKeyUse = 'encrypt' | 'decrypt' | 'both';

// Looked up per call rather than at import, so importing the module never touches `crypto`.
const subtle = (): typeof globalThis.crypto.subtle => globalThis.crypto.subtle;

const encoder = new TextEncoder();
const KEY_LABEL = encoder.encode('SFrame 1.0 Secret key ');
const SALT_LABEL = encoder.encode('SFrame 1.0 Secret salt ');
/*
 * HKDF-Extract("", IKM) is HMAC with an empty key, which equals HMAC with HashLen zero bytes
 * (HMAC zero-pads keys to the block size; RFC 5869 uses HashLen zeros for "no salt"). Passing
 * the zeros avoids relying on every engine accepting an empty salt.
 */
const HKDF_SALT = new Uint8Array(32);

function checkU64(value: bigint, name: string): void {
  if (typeof value !== 'bigint' || value < 0n || value > SFRAME_MAX_U64) {
    throw new RangeError(`SFrame ${name} must be a bigint in [0, 2^64)`);
  }
}

/** label ‖ KID as 8 bytes big-endian ‖ cipher suite as 2 bytes (RFC 9605 §4.4.2). */
function kdfLabel(prefix: Uint8Array, kid: bigint): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(prefix.length + 10);
  out.set(prefix);
  const view = new DataView(out.buffer);
  view.setBigUint64(prefix.length, kid);
  view.setUint16(prefix.length + 8, SFRAME_CIPHER_SUITE);
  return out;
}

/**
 * WebCrypto's typings (DOM lib) want ArrayBuffer-backed views; a view over a SharedArrayBuffer
 * is copied, everything else is passed as is (no per-frame copy).
 */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
}

/** RFC 9605 §4.4.2: `sframe_key` and `sframe_salt` for one KID from its base_key. */
export async function deriveSenderKeys(
  baseKey: Uint8Array,
  kid: bigint,
  use: SframeKeyUse = 'both',
): Promise<SenderKeys> {
  checkU64(kid, 'KID');
  if (baseKey.length === 0) throw new RangeError('SFrame base_key must not be empty');
  const usages: ('encrypt' | 'decrypt')[] = use === 'both' ? ['encrypt', 'decrypt'] : [use];
  const ikm = await subtle().importKey('raw', bufferSource(baseKey), 'HKDF', false, ['deriveKey', 'deriveBits']);
  // One WebCrypto HKDF call is Extract then Expand, i.e. HKDF-Expand(HKDF-Extract("", base_key), label, L).
  const hkdf = (info: Uint8Array<ArrayBuffer>) => ({ name: 'HKDF', hash: 'SHA-256', salt: HKDF_SALT, info });
  const [key, salt] = await Promise.all([
    subtle().deriveKey(
      hkdf(kdfLabel(KEY_LABEL, kid)),
      ikm,
      { name: 'AES-GCM', length: SFRAME_KEY_LENGTH * 8 },
      false,
      usages,
    ),
    subtle().deriveBits(hkdf(kdfLabel(SALT_LABEL, kid)), ikm, SFRAME_NONCE_LENGTH * 8),
  ]);
  return { key, salt: new Uint8Array(salt) };
}

/*
 * Header fields. Values are split into two 32-bit halves so the per-frame work is plain number
 * arithmetic rather than a loop of bigint shifts.
 */

/** Bytes needed after the config byte for one field: 0 when the value fits the 3 config bits. */
function fieldLength(value: bigint): number {
  if (value < 8n) return 0;
  const hi = Number(value >> 32n);
  return hi !== 0 ? 4 + byteLength32(hi) : byteLength32(Number(value & 0xffff_ffffn));
}

function byteLength32(x: number): number {
  return x >= 0x100_0000 ? 4 : x >= 0x1_0000 ? 3 : x >= 0x100 ? 2 : 1;
}

/** Writes `value` as `length` big-endian bytes at `offset`. */
function writeField(out: Uint8Array, offset: number, value: bigint, length: number): void {
  let lo = Number(value & 0xffff_ffffn);
  let hi = Number(value >> 32n);
  for (let i = offset + length - 1, n = 0; i >= offset; i--, n++) {
    if (n < 4) {
      out[i] = lo & 0xff;
      lo >>>= 8;
    } else {
      out[i] = hi & 0xff;
      hi >>>= 8;
    }
  }
}

/** Number of bytes `encodeHeader(kid, ctr)` produces. */
export function sframeHeaderLength(kid: bigint, ctr: bigint): number {
  checkU64(kid, 'KID');
  checkU64(ctr, 'CTR');
  return 1 + fieldLength(kid) + fieldLength(ctr);
}

/** Writes the header at `offset` of `out` and returns its length; `out` must have room. */
function writeHeader(out: Uint8Array, offset: number, kid: bigint, ctr: bigint): number {
  const kidLength = fieldLength(kid);
  const ctrLength = fieldLength(ctr);
  // X|K (high nibble) and Y|C (low nibble): the value itself if < 8, else 8 | (length - 1).
  const k = kidLength === 0 ? Number(kid) : 0x8 | (kidLength - 1);
  const c = ctrLength === 0 ? Number(ctr) : 0x8 | (ctrLength - 1);
  out[offset] = (k << 4) | c;
  writeField(out, offset + 1, kid, kidLength);
  writeField(out, offset + 1 + kidLength, ctr, ctrLength);
  return 1 + kidLength + ctrLength;
}

/** RFC 9605 §4.3: the config byte, then KID and CTR in their minimal big-endian lengths. */
export function encodeHeader(kid: bigint, ctr: bigint): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(sframeHeaderLength(kid, ctr));
  writeHeader(out, 0, kid, ctr);
  return out;
}

/**
 * Reads one extended field; null when truncated or not minimal (a leading zero byte, or a value
 * below 8 that belonged in the config byte: RFC 9605 §4.3 says MUST be minimal, and refusing the
 * other spellings keeps exactly one wire form per (KID, CTR)).
 */
function readField(data: Uint8Array, offset: number, length: number): bigint | null {
  if (offset + length > data.length) return null;
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < length; i++) {
    const byte = data[offset + i] ?? 0;
    if (i === 0 && (byte === 0 || (length === 1 && byte < 8))) return null;
    // Shift the top byte of `lo` into `hi`; multiplication keeps both halves unsigned.
    hi = hi * 0x100 + (lo >>> 24);
    lo = ((lo << 8) | byte) >>> 0;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * Decodes the SFrame header at the start of `data` (bytes after it are ignored).
 * Null when `data` is too short for the header it announces or the header is not minimal.
 */
export function decodeHeader(data: Uint8Array): SframeHeader | null {
  const config = data[0];
  if (config === undefined) return null;
  let offset = 1;
  let kid = BigInt(config >> 4);
  if (config & 0x80) {
    const length = ((config >> 4) & 0x7) + 1;
    const value = readField(data, offset, length);
    if (value === null) return null;
    kid = value;
    offset += length;
  }
  let ctr = BigInt(config & 0x0f);
  if (config & 0x08) {
    const length = (config & 0x7) + 1;
    const value = readField(data, offset, length);
    if (value === null) return null;
    ctr = value;
    offset += length;
  }
  return { kid, ctr, length: offset };
}

/** nonce = sframe_salt XOR CTR, the CTR left-padded to Nn bytes (RFC 9605 §4.4.3). */
function nonceFor(salt: Uint8Array, ctr: bigint): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(SFRAME_NONCE_LENGTH);
  nonce.set(salt);
  const view = new DataView(nonce.buffer);
  view.setUint32(4, view.getUint32(4) ^ Number(ctr >> 32n));
  view.setUint32(8, view.getUint32(8) ^ Number(ctr & 0xffff_ffffn));
  return nonce;
}

/**
 * RFC 9605 §4.4.3: returns header ‖ ciphertext ‖ tag, with AAD = header ‖ metadata.
 *
 * `headroom` leaves that many zero bytes in the returned view's buffer before the header
 * (`result.byteOffset === headroom`), so a caller that puts a clear prefix in front of the
 * SFrame ciphertext can write it there instead of copying the whole frame again.
 * Rejects on a KID or CTR out of range, a salt of the wrong length, or a key that may not encrypt.
 */
export async function sframeEncrypt(
  keys: SenderKeys,
  kid: bigint,
  ctr: bigint,
  metadata: Uint8Array,
  plaintext: Uint8Array,
  headroom = 0,
): Promise<Uint8Array<ArrayBuffer>> {
  const length = sframeHeaderLength(kid, ctr);
  if (keys.salt.length !== SFRAME_NONCE_LENGTH) throw new RangeError('SFrame salt must be 12 bytes');
  // The header is written once, into the AAD, and copied from there into the output.
  const aad = new Uint8Array(length + metadata.length);
  writeHeader(aad, 0, kid, ctr);
  aad.set(metadata, length);
  const sealed = await subtle().encrypt(
    { name: 'AES-GCM', iv: nonceFor(keys.salt, ctr), additionalData: aad, tagLength: SFRAME_TAG_LENGTH * 8 },
    keys.key,
    bufferSource(plaintext),
  );
  const out = new Uint8Array(headroom + length + sealed.byteLength);
  out.set(aad.subarray(0, length), headroom);
  out.set(new Uint8Array(sealed), headroom + length);
  return out.subarray(headroom);
}

/**
 * RFC 9605 §4.4.4. `header` is the encoded header exactly as received (it is part of the AAD);
 * `ciphertextWithTag` is what follows it. Returns the plaintext, or null when the header is not
 * one well-formed header, the input is too short, or authentication fails. Never throws.
 */
export async function sframeDecrypt(
  keys: SenderKeys,
  header: Uint8Array,
  metadata: Uint8Array,
  ciphertextWithTag: Uint8Array,
): Promise<Uint8Array<ArrayBuffer> | null> {
  try {
    const decoded = decodeHeader(header);
    if (decoded === null || decoded.length !== header.length) return null;
    if (ciphertextWithTag.length < SFRAME_TAG_LENGTH || keys.salt.length !== SFRAME_NONCE_LENGTH) return null;
    const aad = new Uint8Array(header.length + metadata.length);
    aad.set(header);
    aad.set(metadata, header.length);
    const plaintext = await subtle().decrypt(
      { name: 'AES-GCM', iv: nonceFor(keys.salt, decoded.ctr), additionalData: aad, tagLength: SFRAME_TAG_LENGTH * 8 },
      keys.key,
      bufferSource(ciphertextWithTag),
    );
    return new Uint8Array(plaintext);
  } catch {
    // Authentication failure (OperationError), a key without 'decrypt', or junk from an untyped caller.
    return null;
  }
}
