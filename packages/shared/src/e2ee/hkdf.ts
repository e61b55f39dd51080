import { buf, utf8 } from './bytes.js';

const subtle = () => globalThis.crypto.subtle;

/** HKDF-SHA256 (RFC 5869): `length` bytes from `ikm`, bound to `info`. */
export async function hkdf(ikm: Uint8Array, info: string | Uint8Array, length: number, salt: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
  const key = await subtle().importKey('raw', buf(ikm), 'HKDF', false, ['deriveBits']);
  const bits = await subtle().deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: buf(salt), info: buf(typeof info === 'string' ? utf8(info) : info) },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

export async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await subtle().importKey('raw', buf(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle().sign('HMAC', k, buf(data)));
}
