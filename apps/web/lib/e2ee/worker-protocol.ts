import type { KeyRef } from '@group-room/shared/e2ee';

/*
 * What the page and the frame worker say to each other. The worker holds the room's epoch keys
 * (never the link secrets) and transforms every encoded frame: encrypt on the way out, decrypt
 * on the way in, drop anything it cannot.
 */

export type TransformRole = { op: 'encrypt'; id: string; kind: 'audio' | 'video' } | { op: 'decrypt'; id: string; kind: 'audio' | 'video'; peerId: string };

export type ToWorker =
  | { op: 'self'; id: string }
  | { op: 'keys'; keys: (KeyRef & { key: Uint8Array })[] }
  /** null: send nothing (an aside waiting for its key): frames are dropped, as with no key. */
  | { op: 'use'; ref: KeyRef | null }
  | { op: 'forget'; gens: number[] }
  /** Chromium's encoded streams, transferred here (the RTCRtpScriptTransform path needs no message). */
  | (TransformRole & { readable: ReadableStream; writable: WritableStream })
  | { op: 'stats' };

export type TransformStatus = 'decrypted' | 'failing' | 'encrypted' | 'no-key';

export type FromWorker =
  | { op: 'status'; id: string; status: TransformStatus }
  /** This receiver's decoder waits for a key frame (frames decrypt, none of them a key frame yet). */
  | { op: 'keyFrame'; id: string }
  | { op: 'stats'; encrypted: number; decrypted: number; dropped: number; p95Micros: number; p50Micros: number; samples: number };
