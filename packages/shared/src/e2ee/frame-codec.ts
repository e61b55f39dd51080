/*
 * How one encoded media frame travels end-to-end encrypted:
 *
 *   wire = clear prefix ‖ SFrame header ‖ ciphertext ‖ tag
 *
 * The clear prefix is the part of the codec payload the SFU reads (VP8 key-frame detection,
 * Opus TOC for DTX); it is the SFrame metadata, so it is authenticated though not encrypted.
 * Everything is fail-closed: every frame is sealed, and a receiver gets either an authenticated
 * plaintext or an error, never the bytes it was handed.
 */
import {
  SFRAME_TAG_LENGTH,
  decodeHeader,
  sframeDecrypt,
  sframeEncrypt,
  type SenderKeys,
  type SframeHeader,
} from './sframe.js';

/** Codecs allowed in an end-to-end encrypted room (no H.264/AV1: their clear bytes are not fixed). */
export type FrameCodec = 'opus' | 'vp8';

/** VP8 key frame: 3-byte frame tag + 7 bytes of start code and dimensions (RFC 6386 §9.1). */
export const VP8_KEY_FRAME_CLEAR_BYTES = 10;
/** VP8 delta frame: the 3-byte frame tag. */
export const VP8_DELTA_FRAME_CLEAR_BYTES = 3;
/** Opus: the TOC byte (RFC 6716 §3.1), which mediasoup reads for DTX. */
export const OPUS_CLEAR_BYTES = 1;

/**
 * Clear bytes the codec wants for a frame whose first byte is `first`. VP8 decides from the P bit
 * (bit 0 of byte 0, 0 = key frame) and never from an engine's frame type, which browsers fill in
 * differently; byte 0 is always clear, so sender and receiver read the same bit.
 */
function wantedPrefix(codec: FrameCodec, first: number): number {
  switch (codec) {
    case 'vp8':
      return first & 0x01 ? VP8_DELTA_FRAME_CLEAR_BYTES : VP8_KEY_FRAME_CLEAR_BYTES;
    case 'opus':
      return OPUS_CLEAR_BYTES;
    default: {
      const unknown: never = codec;
      throw new TypeError(`no end-to-end encryption for codec ${String(unknown)}`);
    }
  }
}

/** How many leading bytes of `frame` stay clear (capped at the frame length). */
export function clearPrefixLength(codec: FrameCodec, frame: Uint8Array): number {
  const first = frame[0];
  if (first === undefined) return 0;
  return Math.min(wantedPrefix(codec, first), frame.length);
}

/**
 * Seals one frame. The result spans its whole ArrayBuffer (byteOffset 0), so a transform can
 * hand `result.buffer` to `frame.data` as it is. Empty frames are sealed too (prefix 0).
 * Rejects (so the caller drops the frame) on a KID/CTR out of range or unusable keys.
 */
export async function encryptFrame(
  frame: Uint8Array,
  codec: FrameCodec,
  kid: bigint,
  ctr: bigint,
  keys: SenderKeys,
): Promise<Uint8Array<ArrayBuffer>> {
  const prefixLength = clearPrefixLength(codec, frame);
  const prefix = frame.subarray(0, prefixLength);
  const sealed = await sframeEncrypt(keys, kid, ctr, prefix, frame.subarray(prefixLength), prefixLength);
  // sframeEncrypt left `prefixLength` free bytes in front of the header: fill them.
  const wire = new Uint8Array(sealed.buffer);
  wire.set(prefix);
  return wire;
}

/** A frame on the wire, split into its parts (views into the input, no copies). */
export interface FrameEnvelope {
  readonly prefix: Uint8Array;
  readonly header: SframeHeader;
  /** Ciphertext ‖ tag. */
  readonly body: Uint8Array;
}

type ParseResult = FrameEnvelope | { readonly error: 'short' | 'header' };

function parse(data: Uint8Array, codec: FrameCodec): ParseResult {
  const first = data[0];
  if (first === undefined) return { error: 'short' };
  // Not capped: a frame shorter than its codec prefix is not valid media, so its envelope is refused.
  const prefixLength = wantedPrefix(codec, first);
  if (data.length < prefixLength + 1 + SFRAME_TAG_LENGTH) return { error: 'short' };
  const header = decodeHeader(data.subarray(prefixLength));
  if (header === null) return { error: 'header' };
  const bodyStart = prefixLength + header.length;
  if (data.length < bodyStart + SFRAME_TAG_LENGTH) return { error: 'short' };
  return { prefix: data.subarray(0, prefixLength), header, body: data.subarray(bodyStart) };
}

/**
 * Splits a wire frame by the codec's rule (VP8: 10 or 3 clear bytes from the P bit of byte 0;
 * Opus: 1). Null when the lengths are impossible or the header is malformed.
 * The envelope of an empty frame (prefix 0) does not follow the rule and is not recognised here;
 * decryptFrame tries that reading itself.
 */
export function parseEnvelope(data: Uint8Array, codec: FrameCodec): FrameEnvelope | null {
  try {
    const result = parse(data, codec);
    return 'error' in result ? null : result;
  } catch {
    return null;
  }
}

export type DecryptFrameError = 'short' | 'header' | 'unknown-key' | 'auth';

export type DecryptFrameResult =
  | { readonly frame: Uint8Array<ArrayBuffer>; readonly kid: bigint }
  | { readonly error: DecryptFrameError };

export type SenderKeysLookup = (kid: bigint) => SenderKeys | undefined | Promise<SenderKeys | undefined>;

async function open(
  data: Uint8Array,
  envelope: FrameEnvelope,
  keysFor: SenderKeysLookup,
): Promise<DecryptFrameResult> {
  const { prefix, header, body } = envelope;
  let keys: SenderKeys | undefined;
  try {
    keys = await keysFor(header.kid);
  } catch {
    keys = undefined;
  }
  if (!keys) return { error: 'unknown-key' };
  const headerBytes = data.subarray(prefix.length, prefix.length + header.length);
  const plaintext = await sframeDecrypt(keys, headerBytes, prefix, body);
  if (plaintext === null) return { error: 'auth' };
  if (prefix.length === 0) return { frame: plaintext, kid: header.kid };
  const frame = new Uint8Array(prefix.length + plaintext.length);
  frame.set(prefix);
  frame.set(plaintext, prefix.length);
  return { frame, kid: header.kid };
}

/**
 * The envelope of an empty frame: no prefix, the header, then only the tag. Ambiguous with the
 * codec's rule by length alone, so it is only tried after that reading failed, and accepted only
 * if it authenticates.
 */
function emptyFrameEnvelope(data: Uint8Array): FrameEnvelope | null {
  const header = decodeHeader(data);
  if (header === null || data.length !== header.length + SFRAME_TAG_LENGTH) return null;
  return { prefix: data.subarray(0, 0), header, body: data.subarray(header.length) };
}

/**
 * Opens one wire frame: the authenticated frame (clear prefix ‖ plaintext, spanning its whole
 * ArrayBuffer) and its KID, or why it must be dropped. Never throws and never returns input
 * bytes that did not authenticate.
 */
export async function decryptFrame(
  data: Uint8Array,
  codec: FrameCodec,
  keysFor: SenderKeysLookup,
): Promise<DecryptFrameResult> {
  try {
    const parsed = parse(data, codec);
    const result = 'error' in parsed ? parsed : await open(data, parsed, keysFor);
    if (!('error' in result)) return result;
    const empty = emptyFrameEnvelope(data);
    if (empty !== null) {
      const retry = await open(data, empty, keysFor);
      if (!('error' in retry)) return retry;
    }
    return result;
  } catch {
    // Only reachable with inputs outside the types (an unknown codec from untyped code).
    return { error: 'header' };
  }
}
