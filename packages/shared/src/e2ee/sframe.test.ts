import { describe, expect, it } from 'vitest';
import {
  SFRAME_MAX_U64,
  decodeHeader,
  deriveSenderKeys,
  encodeHeader,
  sframeDecrypt,
  sframeEncrypt,
  sframeHeaderLength,
} from './sframe.js';

const hex = (text: string): Uint8Array<ArrayBuffer> =>
  Uint8Array.from(text.replace(/\s+/g, '').match(/../g) ?? [], (byte) => parseInt(byte, 16));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/*
 * RFC 9605 Appendix C.1 "Header Encoding/Decoding": all 289 cases (every pair of the 17 KID and
 * CTR values), copied from sframe-wg/sframe test-vectors/header.md at 3d07d8f (unchanged since
 * b5889fd, July 2024, i.e. the RFC text). Taken from the .md, not the .json: the JSON writes KID
 * and CTR as JSON numbers, which lose precision above 2^53.
 */
const HEADER_VECTORS: readonly (readonly [kid: bigint, ctr: bigint, header: string])[] = [
  [0x0000000000000000n, 0x0000000000000000n, '00'],
  [0x0000000000000000n, 0x0000000000000001n, '01'],
  [0x0000000000000000n, 0x00000000000000ffn, '08ff'],
  [0x0000000000000000n, 0x0000000000000100n, '090100'],
  [0x0000000000000000n, 0x000000000000ffffn, '09ffff'],
  [0x0000000000000000n, 0x0000000000010000n, '0a010000'],
  [0x0000000000000000n, 0x0000000000ffffffn, '0affffff'],
  [0x0000000000000000n, 0x0000000001000000n, '0b01000000'],
  [0x0000000000000000n, 0x00000000ffffffffn, '0bffffffff'],
  [0x0000000000000000n, 0x0000000100000000n, '0c0100000000'],
  [0x0000000000000000n, 0x000000ffffffffffn, '0cffffffffff'],
  [0x0000000000000000n, 0x0000010000000000n, '0d010000000000'],
  [0x0000000000000000n, 0x0000ffffffffffffn, '0dffffffffffff'],
  [0x0000000000000000n, 0x0001000000000000n, '0e01000000000000'],
  [0x0000000000000000n, 0x00ffffffffffffffn, '0effffffffffffff'],
  [0x0000000000000000n, 0x0100000000000000n, '0f0100000000000000'],
  [0x0000000000000000n, 0xffffffffffffffffn, '0fffffffffffffffff'],
  [0x0000000000000001n, 0x0000000000000000n, '10'],
  [0x0000000000000001n, 0x0000000000000001n, '11'],
  [0x0000000000000001n, 0x00000000000000ffn, '18ff'],
  [0x0000000000000001n, 0x0000000000000100n, '190100'],
  [0x0000000000000001n, 0x000000000000ffffn, '19ffff'],
  [0x0000000000000001n, 0x0000000000010000n, '1a010000'],
  [0x0000000000000001n, 0x0000000000ffffffn, '1affffff'],
  [0x0000000000000001n, 0x0000000001000000n, '1b01000000'],
  [0x0000000000000001n, 0x00000000ffffffffn, '1bffffffff'],
  [0x0000000000000001n, 0x0000000100000000n, '1c0100000000'],
  [0x0000000000000001n, 0x000000ffffffffffn, '1cffffffffff'],
  [0x0000000000000001n, 0x0000010000000000n, '1d010000000000'],
  [0x0000000000000001n, 0x0000ffffffffffffn, '1dffffffffffff'],
  [0x0000000000000001n, 0x0001000000000000n, '1e01000000000000'],
  [0x0000000000000001n, 0x00ffffffffffffffn, '1effffffffffffff'],
  [0x0000000000000001n, 0x0100000000000000n, '1f0100000000000000'],
  [0x0000000000000001n, 0xffffffffffffffffn, '1fffffffffffffffff'],
  [0x00000000000000ffn, 0x0000000000000000n, '80ff'],
  [0x00000000000000ffn, 0x0000000000000001n, '81ff'],
  [0x00000000000000ffn, 0x00000000000000ffn, '88ffff'],
  [0x00000000000000ffn, 0x0000000000000100n, '89ff0100'],
  [0x00000000000000ffn, 0x000000000000ffffn, '89ffffff'],
  [0x00000000000000ffn, 0x0000000000010000n, '8aff010000'],
  [0x00000000000000ffn, 0x0000000000ffffffn, '8affffffff'],
  [0x00000000000000ffn, 0x0000000001000000n, '8bff01000000'],
  [0x00000000000000ffn, 0x00000000ffffffffn, '8bffffffffff'],
  [0x00000000000000ffn, 0x0000000100000000n, '8cff0100000000'],
  [0x00000000000000ffn, 0x000000ffffffffffn, '8cffffffffffff'],
  [0x00000000000000ffn, 0x0000010000000000n, '8dff010000000000'],
  [0x00000000000000ffn, 0x0000ffffffffffffn, '8dffffffffffffff'],
  [0x00000000000000ffn, 0x0001000000000000n, '8eff01000000000000'],
  [0x00000000000000ffn, 0x00ffffffffffffffn, '8effffffffffffffff'],
  [0x00000000000000ffn, 0x0100000000000000n, '8fff0100000000000000'],
  [0x00000000000000ffn, 0xffffffffffffffffn, '8fffffffffffffffffff'],
  [0x0000000000000100n, 0x0000000000000000n, '900100'],
  [0x0000000000000100n, 0x0000000000000001n, '910100'],
  [0x0000000000000100n, 0x00000000000000ffn, '980100ff'],
  [0x0000000000000100n, 0x0000000000000100n, '9901000100'],
  [0x0000000000000100n, 0x000000000000ffffn, '990100ffff'],
  [0x0000000000000100n, 0x0000000000010000n, '9a0100010000'],
  [0x0000000000000100n, 0x0000000000ffffffn, '9a0100ffffff'],
  [0x0000000000000100n, 0x0000000001000000n, '9b010001000000'],
  [0x0000000000000100n, 0x00000000ffffffffn, '9b0100ffffffff'],
  [0x0000000000000100n, 0x0000000100000000n, '9c01000100000000'],
  [0x0000000000000100n, 0x000000ffffffffffn, '9c0100ffffffffff'],
  [0x0000000000000100n, 0x0000010000000000n, '9d0100010000000000'],
  [0x0000000000000100n, 0x0000ffffffffffffn, '9d0100ffffffffffff'],
  [0x0000000000000100n, 0x0001000000000000n, '9e010001000000000000'],
  [0x0000000000000100n, 0x00ffffffffffffffn, '9e0100ffffffffffffff'],
  [0x0000000000000100n, 0x0100000000000000n, '9f01000100000000000000'],
  [0x0000000000000100n, 0xffffffffffffffffn, '9f0100ffffffffffffffff'],
  [0x000000000000ffffn, 0x0000000000000000n, '90ffff'],
  [0x000000000000ffffn, 0x0000000000000001n, '91ffff'],
  [0x000000000000ffffn, 0x00000000000000ffn, '98ffffff'],
  [0x000000000000ffffn, 0x0000000000000100n, '99ffff0100'],
  [0x000000000000ffffn, 0x000000000000ffffn, '99ffffffff'],
  [0x000000000000ffffn, 0x0000000000010000n, '9affff010000'],
  [0x000000000000ffffn, 0x0000000000ffffffn, '9affffffffff'],
  [0x000000000000ffffn, 0x0000000001000000n, '9bffff01000000'],
  [0x000000000000ffffn, 0x00000000ffffffffn, '9bffffffffffff'],
  [0x000000000000ffffn, 0x0000000100000000n, '9cffff0100000000'],
  [0x000000000000ffffn, 0x000000ffffffffffn, '9cffffffffffffff'],
  [0x000000000000ffffn, 0x0000010000000000n, '9dffff010000000000'],
  [0x000000000000ffffn, 0x0000ffffffffffffn, '9dffffffffffffffff'],
  [0x000000000000ffffn, 0x0001000000000000n, '9effff01000000000000'],
  [0x000000000000ffffn, 0x00ffffffffffffffn, '9effffffffffffffffff'],
  [0x000000000000ffffn, 0x0100000000000000n, '9fffff0100000000000000'],
  [0x000000000000ffffn, 0xffffffffffffffffn, '9fffffffffffffffffffff'],
  [0x0000000000010000n, 0x0000000000000000n, 'a0010000'],
  [0x0000000000010000n, 0x0000000000000001n, 'a1010000'],
  [0x0000000000010000n, 0x00000000000000ffn, 'a8010000ff'],
  [0x0000000000010000n, 0x0000000000000100n, 'a90100000100'],
  [0x0000000000010000n, 0x000000000000ffffn, 'a9010000ffff'],
  [0x0000000000010000n, 0x0000000000010000n, 'aa010000010000'],
  [0x0000000000010000n, 0x0000000000ffffffn, 'aa010000ffffff'],
  [0x0000000000010000n, 0x0000000001000000n, 'ab01000001000000'],
  [0x0000000000010000n, 0x00000000ffffffffn, 'ab010000ffffffff'],
  [0x0000000000010000n, 0x0000000100000000n, 'ac0100000100000000'],
  [0x0000000000010000n, 0x000000ffffffffffn, 'ac010000ffffffffff'],
  [0x0000000000010000n, 0x0000010000000000n, 'ad010000010000000000'],
  [0x0000000000010000n, 0x0000ffffffffffffn, 'ad010000ffffffffffff'],
  [0x0000000000010000n, 0x0001000000000000n, 'ae01000001000000000000'],
  [0x0000000000010000n, 0x00ffffffffffffffn, 'ae010000ffffffffffffff'],
  [0x0000000000010000n, 0x0100000000000000n, 'af0100000100000000000000'],
  [0x0000000000010000n, 0xffffffffffffffffn, 'af010000ffffffffffffffff'],
  [0x0000000000ffffffn, 0x0000000000000000n, 'a0ffffff'],
  [0x0000000000ffffffn, 0x0000000000000001n, 'a1ffffff'],
  [0x0000000000ffffffn, 0x00000000000000ffn, 'a8ffffffff'],
  [0x0000000000ffffffn, 0x0000000000000100n, 'a9ffffff0100'],
  [0x0000000000ffffffn, 0x000000000000ffffn, 'a9ffffffffff'],
  [0x0000000000ffffffn, 0x0000000000010000n, 'aaffffff010000'],
  [0x0000000000ffffffn, 0x0000000000ffffffn, 'aaffffffffffff'],
  [0x0000000000ffffffn, 0x0000000001000000n, 'abffffff01000000'],
  [0x0000000000ffffffn, 0x00000000ffffffffn, 'abffffffffffffff'],
  [0x0000000000ffffffn, 0x0000000100000000n, 'acffffff0100000000'],
  [0x0000000000ffffffn, 0x000000ffffffffffn, 'acffffffffffffffff'],
  [0x0000000000ffffffn, 0x0000010000000000n, 'adffffff010000000000'],
  [0x0000000000ffffffn, 0x0000ffffffffffffn, 'adffffffffffffffffff'],
  [0x0000000000ffffffn, 0x0001000000000000n, 'aeffffff01000000000000'],
  [0x0000000000ffffffn, 0x00ffffffffffffffn, 'aeffffffffffffffffffff'],
  [0x0000000000ffffffn, 0x0100000000000000n, 'afffffff0100000000000000'],
  [0x0000000000ffffffn, 0xffffffffffffffffn, 'afffffffffffffffffffffff'],
  [0x0000000001000000n, 0x0000000000000000n, 'b001000000'],
  [0x0000000001000000n, 0x0000000000000001n, 'b101000000'],
  [0x0000000001000000n, 0x00000000000000ffn, 'b801000000ff'],
  [0x0000000001000000n, 0x0000000000000100n, 'b9010000000100'],
  [0x0000000001000000n, 0x000000000000ffffn, 'b901000000ffff'],
  [0x0000000001000000n, 0x0000000000010000n, 'ba01000000010000'],
  [0x0000000001000000n, 0x0000000000ffffffn, 'ba01000000ffffff'],
  [0x0000000001000000n, 0x0000000001000000n, 'bb0100000001000000'],
  [0x0000000001000000n, 0x00000000ffffffffn, 'bb01000000ffffffff'],
  [0x0000000001000000n, 0x0000000100000000n, 'bc010000000100000000'],
  [0x0000000001000000n, 0x000000ffffffffffn, 'bc01000000ffffffffff'],
  [0x0000000001000000n, 0x0000010000000000n, 'bd01000000010000000000'],
  [0x0000000001000000n, 0x0000ffffffffffffn, 'bd01000000ffffffffffff'],
  [0x0000000001000000n, 0x0001000000000000n, 'be0100000001000000000000'],
  [0x0000000001000000n, 0x00ffffffffffffffn, 'be01000000ffffffffffffff'],
  [0x0000000001000000n, 0x0100000000000000n, 'bf010000000100000000000000'],
  [0x0000000001000000n, 0xffffffffffffffffn, 'bf01000000ffffffffffffffff'],
  [0x00000000ffffffffn, 0x0000000000000000n, 'b0ffffffff'],
  [0x00000000ffffffffn, 0x0000000000000001n, 'b1ffffffff'],
  [0x00000000ffffffffn, 0x00000000000000ffn, 'b8ffffffffff'],
  [0x00000000ffffffffn, 0x0000000000000100n, 'b9ffffffff0100'],
  [0x00000000ffffffffn, 0x000000000000ffffn, 'b9ffffffffffff'],
  [0x00000000ffffffffn, 0x0000000000010000n, 'baffffffff010000'],
  [0x00000000ffffffffn, 0x0000000000ffffffn, 'baffffffffffffff'],
  [0x00000000ffffffffn, 0x0000000001000000n, 'bbffffffff01000000'],
  [0x00000000ffffffffn, 0x00000000ffffffffn, 'bbffffffffffffffff'],
  [0x00000000ffffffffn, 0x0000000100000000n, 'bcffffffff0100000000'],
  [0x00000000ffffffffn, 0x000000ffffffffffn, 'bcffffffffffffffffff'],
  [0x00000000ffffffffn, 0x0000010000000000n, 'bdffffffff010000000000'],
  [0x00000000ffffffffn, 0x0000ffffffffffffn, 'bdffffffffffffffffffff'],
  [0x00000000ffffffffn, 0x0001000000000000n, 'beffffffff01000000000000'],
  [0x00000000ffffffffn, 0x00ffffffffffffffn, 'beffffffffffffffffffffff'],
  [0x00000000ffffffffn, 0x0100000000000000n, 'bfffffffff0100000000000000'],
  [0x00000000ffffffffn, 0xffffffffffffffffn, 'bfffffffffffffffffffffffff'],
  [0x0000000100000000n, 0x0000000000000000n, 'c00100000000'],
  [0x0000000100000000n, 0x0000000000000001n, 'c10100000000'],
  [0x0000000100000000n, 0x00000000000000ffn, 'c80100000000ff'],
  [0x0000000100000000n, 0x0000000000000100n, 'c901000000000100'],
  [0x0000000100000000n, 0x000000000000ffffn, 'c90100000000ffff'],
  [0x0000000100000000n, 0x0000000000010000n, 'ca0100000000010000'],
  [0x0000000100000000n, 0x0000000000ffffffn, 'ca0100000000ffffff'],
  [0x0000000100000000n, 0x0000000001000000n, 'cb010000000001000000'],
  [0x0000000100000000n, 0x00000000ffffffffn, 'cb0100000000ffffffff'],
  [0x0000000100000000n, 0x0000000100000000n, 'cc01000000000100000000'],
  [0x0000000100000000n, 0x000000ffffffffffn, 'cc0100000000ffffffffff'],
  [0x0000000100000000n, 0x0000010000000000n, 'cd0100000000010000000000'],
  [0x0000000100000000n, 0x0000ffffffffffffn, 'cd0100000000ffffffffffff'],
  [0x0000000100000000n, 0x0001000000000000n, 'ce010000000001000000000000'],
  [0x0000000100000000n, 0x00ffffffffffffffn, 'ce0100000000ffffffffffffff'],
  [0x0000000100000000n, 0x0100000000000000n, 'cf01000000000100000000000000'],
  [0x0000000100000000n, 0xffffffffffffffffn, 'cf0100000000ffffffffffffffff'],
  [0x000000ffffffffffn, 0x0000000000000000n, 'c0ffffffffff'],
  [0x000000ffffffffffn, 0x0000000000000001n, 'c1ffffffffff'],
  [0x000000ffffffffffn, 0x00000000000000ffn, 'c8ffffffffffff'],
  [0x000000ffffffffffn, 0x0000000000000100n, 'c9ffffffffff0100'],
  [0x000000ffffffffffn, 0x000000000000ffffn, 'c9ffffffffffffff'],
  [0x000000ffffffffffn, 0x0000000000010000n, 'caffffffffff010000'],
  [0x000000ffffffffffn, 0x0000000000ffffffn, 'caffffffffffffffff'],
  [0x000000ffffffffffn, 0x0000000001000000n, 'cbffffffffff01000000'],
  [0x000000ffffffffffn, 0x00000000ffffffffn, 'cbffffffffffffffffff'],
  [0x000000ffffffffffn, 0x0000000100000000n, 'ccffffffffff0100000000'],
  [0x000000ffffffffffn, 0x000000ffffffffffn, 'ccffffffffffffffffffff'],
  [0x000000ffffffffffn, 0x0000010000000000n, 'cdffffffffff010000000000'],
  [0x000000ffffffffffn, 0x0000ffffffffffffn, 'cdffffffffffffffffffffff'],
  [0x000000ffffffffffn, 0x0001000000000000n, 'ceffffffffff01000000000000'],
  [0x000000ffffffffffn, 0x00ffffffffffffffn, 'ceffffffffffffffffffffffff'],
  [0x000000ffffffffffn, 0x0100000000000000n, 'cfffffffffff0100000000000000'],
  [0x000000ffffffffffn, 0xffffffffffffffffn, 'cfffffffffffffffffffffffffff'],
  [0x0000010000000000n, 0x0000000000000000n, 'd0010000000000'],
  [0x0000010000000000n, 0x0000000000000001n, 'd1010000000000'],
  [0x0000010000000000n, 0x00000000000000ffn, 'd8010000000000ff'],
  [0x0000010000000000n, 0x0000000000000100n, 'd90100000000000100'],
  [0x0000010000000000n, 0x000000000000ffffn, 'd9010000000000ffff'],
  [0x0000010000000000n, 0x0000000000010000n, 'da010000000000010000'],
  [0x0000010000000000n, 0x0000000000ffffffn, 'da010000000000ffffff'],
  [0x0000010000000000n, 0x0000000001000000n, 'db01000000000001000000'],
  [0x0000010000000000n, 0x00000000ffffffffn, 'db010000000000ffffffff'],
  [0x0000010000000000n, 0x0000000100000000n, 'dc0100000000000100000000'],
  [0x0000010000000000n, 0x000000ffffffffffn, 'dc010000000000ffffffffff'],
  [0x0000010000000000n, 0x0000010000000000n, 'dd010000000000010000000000'],
  [0x0000010000000000n, 0x0000ffffffffffffn, 'dd010000000000ffffffffffff'],
  [0x0000010000000000n, 0x0001000000000000n, 'de01000000000001000000000000'],
  [0x0000010000000000n, 0x00ffffffffffffffn, 'de010000000000ffffffffffffff'],
  [0x0000010000000000n, 0x0100000000000000n, 'df0100000000000100000000000000'],
  [0x0000010000000000n, 0xffffffffffffffffn, 'df010000000000ffffffffffffffff'],
  [0x0000ffffffffffffn, 0x0000000000000000n, 'd0ffffffffffff'],
  [0x0000ffffffffffffn, 0x0000000000000001n, 'd1ffffffffffff'],
  [0x0000ffffffffffffn, 0x00000000000000ffn, 'd8ffffffffffffff'],
  [0x0000ffffffffffffn, 0x0000000000000100n, 'd9ffffffffffff0100'],
  [0x0000ffffffffffffn, 0x000000000000ffffn, 'd9ffffffffffffffff'],
  [0x0000ffffffffffffn, 0x0000000000010000n, 'daffffffffffff010000'],
  [0x0000ffffffffffffn, 0x0000000000ffffffn, 'daffffffffffffffffff'],
  [0x0000ffffffffffffn, 0x0000000001000000n, 'dbffffffffffff01000000'],
  [0x0000ffffffffffffn, 0x00000000ffffffffn, 'dbffffffffffffffffffff'],
  [0x0000ffffffffffffn, 0x0000000100000000n, 'dcffffffffffff0100000000'],
  [0x0000ffffffffffffn, 0x000000ffffffffffn, 'dcffffffffffffffffffffff'],
  [0x0000ffffffffffffn, 0x0000010000000000n, 'ddffffffffffff010000000000'],
  [0x0000ffffffffffffn, 0x0000ffffffffffffn, 'ddffffffffffffffffffffffff'],
  [0x0000ffffffffffffn, 0x0001000000000000n, 'deffffffffffff01000000000000'],
  [0x0000ffffffffffffn, 0x00ffffffffffffffn, 'deffffffffffffffffffffffffff'],
  [0x0000ffffffffffffn, 0x0100000000000000n, 'dfffffffffffff0100000000000000'],
  [0x0000ffffffffffffn, 0xffffffffffffffffn, 'dfffffffffffffffffffffffffffff'],
  [0x0001000000000000n, 0x0000000000000000n, 'e001000000000000'],
  [0x0001000000000000n, 0x0000000000000001n, 'e101000000000000'],
  [0x0001000000000000n, 0x00000000000000ffn, 'e801000000000000ff'],
  [0x0001000000000000n, 0x0000000000000100n, 'e9010000000000000100'],
  [0x0001000000000000n, 0x000000000000ffffn, 'e901000000000000ffff'],
  [0x0001000000000000n, 0x0000000000010000n, 'ea01000000000000010000'],
  [0x0001000000000000n, 0x0000000000ffffffn, 'ea01000000000000ffffff'],
  [0x0001000000000000n, 0x0000000001000000n, 'eb0100000000000001000000'],
  [0x0001000000000000n, 0x00000000ffffffffn, 'eb01000000000000ffffffff'],
  [0x0001000000000000n, 0x0000000100000000n, 'ec010000000000000100000000'],
  [0x0001000000000000n, 0x000000ffffffffffn, 'ec01000000000000ffffffffff'],
  [0x0001000000000000n, 0x0000010000000000n, 'ed01000000000000010000000000'],
  [0x0001000000000000n, 0x0000ffffffffffffn, 'ed01000000000000ffffffffffff'],
  [0x0001000000000000n, 0x0001000000000000n, 'ee0100000000000001000000000000'],
  [0x0001000000000000n, 0x00ffffffffffffffn, 'ee01000000000000ffffffffffffff'],
  [0x0001000000000000n, 0x0100000000000000n, 'ef010000000000000100000000000000'],
  [0x0001000000000000n, 0xffffffffffffffffn, 'ef01000000000000ffffffffffffffff'],
  [0x00ffffffffffffffn, 0x0000000000000000n, 'e0ffffffffffffff'],
  [0x00ffffffffffffffn, 0x0000000000000001n, 'e1ffffffffffffff'],
  [0x00ffffffffffffffn, 0x00000000000000ffn, 'e8ffffffffffffffff'],
  [0x00ffffffffffffffn, 0x0000000000000100n, 'e9ffffffffffffff0100'],
  [0x00ffffffffffffffn, 0x000000000000ffffn, 'e9ffffffffffffffffff'],
  [0x00ffffffffffffffn, 0x0000000000010000n, 'eaffffffffffffff010000'],
  [0x00ffffffffffffffn, 0x0000000000ffffffn, 'eaffffffffffffffffffff'],
  [0x00ffffffffffffffn, 0x0000000001000000n, 'ebffffffffffffff01000000'],
  [0x00ffffffffffffffn, 0x00000000ffffffffn, 'ebffffffffffffffffffffff'],
  [0x00ffffffffffffffn, 0x0000000100000000n, 'ecffffffffffffff0100000000'],
  [0x00ffffffffffffffn, 0x000000ffffffffffn, 'ecffffffffffffffffffffffff'],
  [0x00ffffffffffffffn, 0x0000010000000000n, 'edffffffffffffff010000000000'],
  [0x00ffffffffffffffn, 0x0000ffffffffffffn, 'edffffffffffffffffffffffffff'],
  [0x00ffffffffffffffn, 0x0001000000000000n, 'eeffffffffffffff01000000000000'],
  [0x00ffffffffffffffn, 0x00ffffffffffffffn, 'eeffffffffffffffffffffffffffff'],
  [0x00ffffffffffffffn, 0x0100000000000000n, 'efffffffffffffff0100000000000000'],
  [0x00ffffffffffffffn, 0xffffffffffffffffn, 'efffffffffffffffffffffffffffffff'],
  [0x0100000000000000n, 0x0000000000000000n, 'f00100000000000000'],
  [0x0100000000000000n, 0x0000000000000001n, 'f10100000000000000'],
  [0x0100000000000000n, 0x00000000000000ffn, 'f80100000000000000ff'],
  [0x0100000000000000n, 0x0000000000000100n, 'f901000000000000000100'],
  [0x0100000000000000n, 0x000000000000ffffn, 'f90100000000000000ffff'],
  [0x0100000000000000n, 0x0000000000010000n, 'fa0100000000000000010000'],
  [0x0100000000000000n, 0x0000000000ffffffn, 'fa0100000000000000ffffff'],
  [0x0100000000000000n, 0x0000000001000000n, 'fb010000000000000001000000'],
  [0x0100000000000000n, 0x00000000ffffffffn, 'fb0100000000000000ffffffff'],
  [0x0100000000000000n, 0x0000000100000000n, 'fc01000000000000000100000000'],
  [0x0100000000000000n, 0x000000ffffffffffn, 'fc0100000000000000ffffffffff'],
  [0x0100000000000000n, 0x0000010000000000n, 'fd0100000000000000010000000000'],
  [0x0100000000000000n, 0x0000ffffffffffffn, 'fd0100000000000000ffffffffffff'],
  [0x0100000000000000n, 0x0001000000000000n, 'fe010000000000000001000000000000'],
  [0x0100000000000000n, 0x00ffffffffffffffn, 'fe0100000000000000ffffffffffffff'],
  [0x0100000000000000n, 0x0100000000000000n, 'ff01000000000000000100000000000000'],
  [0x0100000000000000n, 0xffffffffffffffffn, 'ff0100000000000000ffffffffffffffff'],
  [0xffffffffffffffffn, 0x0000000000000000n, 'f0ffffffffffffffff'],
  [0xffffffffffffffffn, 0x0000000000000001n, 'f1ffffffffffffffff'],
  [0xffffffffffffffffn, 0x00000000000000ffn, 'f8ffffffffffffffffff'],
  [0xffffffffffffffffn, 0x0000000000000100n, 'f9ffffffffffffffff0100'],
  [0xffffffffffffffffn, 0x000000000000ffffn, 'f9ffffffffffffffffffff'],
  [0xffffffffffffffffn, 0x0000000000010000n, 'faffffffffffffffff010000'],
  [0xffffffffffffffffn, 0x0000000000ffffffn, 'faffffffffffffffffffffff'],
  [0xffffffffffffffffn, 0x0000000001000000n, 'fbffffffffffffffff01000000'],
  [0xffffffffffffffffn, 0x00000000ffffffffn, 'fbffffffffffffffffffffffff'],
  [0xffffffffffffffffn, 0x0000000100000000n, 'fcffffffffffffffff0100000000'],
  [0xffffffffffffffffn, 0x000000ffffffffffn, 'fcffffffffffffffffffffffffff'],
  [0xffffffffffffffffn, 0x0000010000000000n, 'fdffffffffffffffff010000000000'],
  [0xffffffffffffffffn, 0x0000ffffffffffffn, 'fdffffffffffffffffffffffffffff'],
  [0xffffffffffffffffn, 0x0001000000000000n, 'feffffffffffffffff01000000000000'],
  [0xffffffffffffffffn, 0x00ffffffffffffffn, 'feffffffffffffffffffffffffffffff'],
  [0xffffffffffffffffn, 0x0100000000000000n, 'ffffffffffffffffff0100000000000000'],
  [0xffffffffffffffffn, 0xffffffffffffffffn, 'ffffffffffffffffffffffffffffffffff'],
];

/*
 * RFC 9605 Appendix C.3 "SFrame Encryption/Decryption", cipher_suite 0x0004
 * (sframe-wg/sframe test-vectors/sframe.md at 3d07d8f, same as the RFC).
 */
const C3 = {
  kid: 0x0000000000000123n,
  ctr: 0x0000000000004567n,
  baseKey: hex('000102030405060708090a0b0c0d0e0f'),
  sframeKeyLabel: hex('534672616d6520312e3020536563726574206b65792000000000000001230004'),
  sframeSaltLabel: hex('534672616d6520312e30205365637265742073616c742000000000000001230004'),
  sframeSecret: hex('d926952ca8b7ec4a95941d1ada3a5203ceff8cceee34f574d23909eb314c40c0'),
  sframeKey: hex('d34f547f4ca4f9a7447006fe7fcbf768'),
  sframeSalt: hex('75234edefe07819026751816'),
  metadata: hex('4945544620534672616d65205747'),
  nonce: hex('75234edefe07819026755d71'),
  aad: hex('99012345674945544620534672616d65205747'),
  pt: hex('64726166742d696574662d736672616d652d656e63'),
  ct: hex('9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb'),
};

const subtle = globalThis.crypto.subtle;

describe('SFrame header (RFC 9605 §4.3, Appendix C.1)', () => {
  it('has all 289 vectors', () => {
    expect(HEADER_VECTORS).toHaveLength(289);
  });

  it('encodes every vector', () => {
    for (const [kid, ctr, header] of HEADER_VECTORS) {
      expect(toHex(encodeHeader(kid, ctr)), `kid ${kid} ctr ${ctr}`).toBe(header);
      expect(sframeHeaderLength(kid, ctr)).toBe(header.length / 2);
    }
  });

  it('decodes every vector, ignoring bytes after the header', () => {
    for (const [kid, ctr, header] of HEADER_VECTORS) {
      const bytes = hex(header);
      expect(decodeHeader(bytes)).toEqual({ kid, ctr, length: bytes.length });
      const followed = new Uint8Array(bytes.length + 3).fill(0xab);
      followed.set(bytes);
      expect(decodeHeader(followed)).toEqual({ kid, ctr, length: bytes.length });
    }
  });

  it('returns null for every truncation of every vector', () => {
    expect(decodeHeader(new Uint8Array(0))).toBeNull();
    for (const [, , header] of HEADER_VECTORS) {
      const bytes = hex(header);
      for (let cut = 0; cut < bytes.length; cut++) {
        expect(decodeHeader(bytes.subarray(0, cut)), `${header} cut to ${cut}`).toBeNull();
      }
    }
  });

  it('refuses non-minimal encodings', () => {
    // KID 5 / CTR 5 in an extension byte instead of the config byte.
    expect(decodeHeader(hex('8005'))).toBeNull();
    expect(decodeHeader(hex('0805'))).toBeNull();
    // 0x80 or 0xff with a leading zero byte.
    expect(decodeHeader(hex('900080'))).toBeNull();
    expect(decodeHeader(hex('09 00ff'))).toBeNull();
    expect(decodeHeader(hex('f0 00ffffffffffffff'))).toBeNull();
    // The minimal forms of the same values decode.
    expect(decodeHeader(hex('5000'))).toEqual({ kid: 5n, ctr: 0n, length: 1 });
    expect(decodeHeader(hex('8080'))).toEqual({ kid: 0x80n, ctr: 0n, length: 2 });
  });

  it('refuses KID or CTR outside 64 bits', () => {
    for (const bad of [-1n, SFRAME_MAX_U64 + 1n]) {
      expect(() => encodeHeader(bad, 0n)).toThrow(RangeError);
      expect(() => encodeHeader(0n, bad)).toThrow(RangeError);
    }
  });
});

describe('SFrame key derivation (RFC 9605 §4.4.2, Appendix C.3 suite 0x0004)', () => {
  it('uses the labels of the vector', () => {
    // "SFrame 1.0 Secret key " / "SFrame 1.0 Secret salt " ‖ KID (8 bytes BE) ‖ suite (2 bytes BE).
    const label = (text: string) => {
      const out = new Uint8Array(text.length + 10);
      out.set(new TextEncoder().encode(text));
      new DataView(out.buffer).setBigUint64(text.length, C3.kid);
      new DataView(out.buffer).setUint16(text.length + 8, 0x0004);
      return toHex(out);
    };
    expect(label('SFrame 1.0 Secret key ')).toBe(toHex(C3.sframeKeyLabel));
    expect(label('SFrame 1.0 Secret salt ')).toBe(toHex(C3.sframeSaltLabel));
  });

  it('derives sframe_salt and a non-extractable AES-128-GCM sframe_key', async () => {
    const keys = await deriveSenderKeys(C3.baseKey, C3.kid);
    expect(toHex(keys.salt)).toBe(toHex(C3.sframeSalt));
    expect(keys.key.extractable).toBe(false);
    expect(keys.key.algorithm).toMatchObject({ name: 'AES-GCM', length: 128 });
    expect([...keys.key.usages].sort()).toEqual(['decrypt', 'encrypt']);
    await expect(subtle.exportKey('raw', keys.key)).rejects.toThrow();
  });

  it('derives the vector sframe_key (same ciphertext as the raw key)', async () => {
    const keys = await deriveSenderKeys(C3.baseKey, C3.kid);
    const raw = await subtle.importKey('raw', C3.sframeKey, 'AES-GCM', false, ['encrypt']);
    const params = { name: 'AES-GCM', iv: C3.nonce, additionalData: C3.aad };
    const data = new Uint8Array(64).map((_, i) => i);
    expect(toHex(new Uint8Array(await subtle.encrypt(params, keys.key, data)))).toBe(
      toHex(new Uint8Array(await subtle.encrypt(params, raw, data))),
    );
  });

  it('matches the intermediate sframe_secret (HKDF-Extract with an empty salt)', async () => {
    // Independent HMAC computation: sframe_secret = HMAC(salt="", base_key), then one Expand block.
    const hmac = async (key: Uint8Array<ArrayBuffer>, data: Uint8Array<ArrayBuffer>) => {
      const k = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      return new Uint8Array(await subtle.sign('HMAC', k, data));
    };
    // WebCrypto refuses an empty HMAC key; HashLen zeros are the same HMAC key.
    const secret = await hmac(new Uint8Array(32), C3.baseKey);
    expect(toHex(secret)).toBe(toHex(C3.sframeSecret));
    const expand = async (label: Uint8Array, length: number) => {
      const info = new Uint8Array(label.length + 1);
      info.set(label);
      info[label.length] = 1;
      return toHex((await hmac(secret, info)).subarray(0, length));
    };
    expect(await expand(C3.sframeKeyLabel, 16)).toBe(toHex(C3.sframeKey));
    expect(await expand(C3.sframeSaltLabel, 12)).toBe(toHex(C3.sframeSalt));
  });

  it('gives different keys to different KIDs of one base key', async () => {
    const a = await deriveSenderKeys(C3.baseKey, 1n);
    const b = await deriveSenderKeys(C3.baseKey, 2n);
    expect(toHex(a.salt)).not.toBe(toHex(b.salt));
    const sealed = await sframeEncrypt(a, 1n, 0n, new Uint8Array(0), C3.pt);
    expect(await sframeDecrypt(b, sealed.subarray(0, 1), new Uint8Array(0), sealed.subarray(1))).toBeNull();
  });

  it('restricts the key to one use on request', async () => {
    const receiveOnly = await deriveSenderKeys(C3.baseKey, C3.kid, 'decrypt');
    expect([...receiveOnly.key.usages]).toEqual(['decrypt']);
    await expect(sframeEncrypt(receiveOnly, C3.kid, 0n, C3.metadata, C3.pt)).rejects.toThrow();
    expect(await sframeDecrypt(receiveOnly, C3.ct.subarray(0, 5), C3.metadata, C3.ct.subarray(5))).toEqual(C3.pt);
  });

  it('refuses bad inputs', async () => {
    await expect(deriveSenderKeys(new Uint8Array(0), 1n)).rejects.toThrow(RangeError);
    await expect(deriveSenderKeys(C3.baseKey, -1n)).rejects.toThrow(RangeError);
    await expect(deriveSenderKeys(C3.baseKey, SFRAME_MAX_U64 + 1n)).rejects.toThrow(RangeError);
  });
});

describe('SFrame encryption (RFC 9605 §4.4.3–4.4.4, Appendix C.3 suite 0x0004)', () => {
  it('encrypts the vector: header ‖ ciphertext ‖ tag', async () => {
    const keys = await deriveSenderKeys(C3.baseKey, C3.kid);
    const ct = await sframeEncrypt(keys, C3.kid, C3.ctr, C3.metadata, C3.pt);
    expect(toHex(ct)).toBe(toHex(C3.ct));
  });

  it('agrees with the vector nonce and AAD', async () => {
    const raw = await subtle.importKey('raw', C3.sframeKey, 'AES-GCM', false, ['decrypt']);
    const pt = await subtle.decrypt({ name: 'AES-GCM', iv: C3.nonce, additionalData: C3.aad }, raw, C3.ct.subarray(5));
    expect(toHex(new Uint8Array(pt))).toBe(toHex(C3.pt));
    expect(toHex(C3.aad)).toBe(toHex(C3.ct.subarray(0, 5)) + toHex(C3.metadata));
  });

  it('decrypts the vector', async () => {
    const keys = await deriveSenderKeys(C3.baseKey, C3.kid);
    const header = decodeHeader(C3.ct);
    expect(header).toEqual({ kid: C3.kid, ctr: C3.ctr, length: 5 });
    const pt = await sframeDecrypt(keys, C3.ct.subarray(0, 5), C3.metadata, C3.ct.subarray(5));
    expect(pt && toHex(pt)).toBe(toHex(C3.pt));
  });

  it('round-trips at the edges of KID and CTR, with and without metadata', async () => {
    for (const kid of [0n, 7n, 8n, 0xffn, 0x100n, SFRAME_MAX_U64]) {
      const keys = await deriveSenderKeys(C3.baseKey, kid);
      for (const ctr of [0n, 7n, 8n, 0xffff_ffffn, 0x1_0000_0000n, SFRAME_MAX_U64]) {
        for (const metadata of [new Uint8Array(0), C3.metadata]) {
          for (const pt of [new Uint8Array(0), C3.pt]) {
            const sealed = await sframeEncrypt(keys, kid, ctr, metadata, pt);
            const header = decodeHeader(sealed);
            expect(header).toEqual({ kid, ctr, length: sframeHeaderLength(kid, ctr) });
            const length = header?.length ?? 0;
            expect(sealed.length).toBe(length + pt.length + 16);
            const opened = await sframeDecrypt(keys, sealed.subarray(0, length), metadata, sealed.subarray(length));
            expect(opened && toHex(opened)).toBe(toHex(pt));
          }
        }
      }
    }
  });

  it('gives different ciphertexts for different CTRs (salt XOR CTR nonce)', async () => {
    const keys = await deriveSenderKeys(C3.baseKey, C3.kid);
    const seen = new Set<string>();
    for (const ctr of [0n, 1n, 0x100n, 0x1_0000_0000n, SFRAME_MAX_U64]) {
      const sealed = await sframeEncrypt(keys, C3.kid, ctr, C3.metadata, C3.pt);
      seen.add(toHex(sealed.subarray(sframeHeaderLength(C3.kid, ctr))));
    }
    expect(seen.size).toBe(5);
  });

  it('leaves headroom in front without changing the result', async () => {
    const keys = await deriveSenderKeys(C3.baseKey, C3.kid);
    const sealed = await sframeEncrypt(keys, C3.kid, C3.ctr, C3.metadata, C3.pt, 7);
    expect(toHex(sealed)).toBe(toHex(C3.ct));
    expect(sealed.byteOffset).toBe(7);
    expect(sealed.buffer.byteLength).toBe(7 + C3.ct.length);
  });

  it('returns null, never throws, on anything that does not authenticate', async () => {
    const keys = await deriveSenderKeys(C3.baseKey, C3.kid);
    const header = C3.ct.subarray(0, 5);
    const body = C3.ct.subarray(5);
    const flip = (bytes: Uint8Array, index: number) => {
      const copy = bytes.slice();
      copy[index] = (copy[index] ?? 0) ^ 0x01;
      return copy;
    };
    for (let i = 0; i < header.length; i++) {
      expect(await sframeDecrypt(keys, flip(header, i), C3.metadata, body), `header byte ${i}`).toBeNull();
    }
    for (let i = 0; i < C3.metadata.length; i++) {
      expect(await sframeDecrypt(keys, header, flip(C3.metadata, i), body), `metadata byte ${i}`).toBeNull();
    }
    for (let i = 0; i < body.length; i++) {
      expect(await sframeDecrypt(keys, header, C3.metadata, flip(body, i)), `body byte ${i}`).toBeNull();
    }
    for (let cut = 0; cut < body.length; cut++) {
      expect(await sframeDecrypt(keys, header, C3.metadata, body.subarray(0, cut)), `body cut ${cut}`).toBeNull();
    }
    // Header that is not exactly one header, wrong metadata length, unusable keys.
    expect(await sframeDecrypt(keys, C3.ct.subarray(0, 6), C3.metadata, C3.ct.subarray(6))).toBeNull();
    expect(await sframeDecrypt(keys, new Uint8Array(0), C3.metadata, body)).toBeNull();
    expect(await sframeDecrypt(keys, header, C3.metadata.subarray(1), body)).toBeNull();
    expect(await sframeDecrypt({ key: keys.key, salt: new Uint8Array(8) }, header, C3.metadata, body)).toBeNull();
    const hmacKey = await subtle.importKey('raw', C3.baseKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    expect(await sframeDecrypt({ key: hmacKey, salt: keys.salt }, header, C3.metadata, body)).toBeNull();
  });

  it('refuses to encrypt with bad parameters', async () => {
    const keys = await deriveSenderKeys(C3.baseKey, C3.kid);
    await expect(sframeEncrypt(keys, -1n, 0n, C3.metadata, C3.pt)).rejects.toThrow(RangeError);
    await expect(sframeEncrypt(keys, 0n, SFRAME_MAX_U64 + 1n, C3.metadata, C3.pt)).rejects.toThrow(RangeError);
    await expect(sframeEncrypt({ key: keys.key, salt: new Uint8Array(11) }, 0n, 0n, C3.metadata, C3.pt)).rejects.toThrow(
      RangeError,
    );
  });
});
