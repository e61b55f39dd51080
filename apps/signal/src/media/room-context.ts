import { ProtocolFailure } from '@group-room/shared';
import type { types } from 'mediasoup';
import type { Logger } from '../logger.js';
import type { MediaPolicy } from '../room/state.js';
import type { MediaTap } from './media-tap.js';
import type { PeerMedia } from './peer-media.js';

/** What RoomMedia's parts (transports, producers, subscriptions, policy sync) share. */
export interface RoomContext {
  readonly router: types.Router;
  readonly peers: ReadonlyMap<string, PeerMedia>;
  /** Who the room state lets receive, and send each source (see mediaPolicy). */
  policy: MediaPolicy;
  /** False once this node no longer holds the room's lease: no media may start flowing to anyone. */
  readonly mayAct: () => boolean;
  readonly log: Logger;
  /** Tests only (MEDIA_TAP_FILE): where every producer's packets are written down. */
  readonly tap: MediaTap | undefined;
}

export const NOBODY: MediaPolicy = { receive: new Set(), send: { mic: new Set(), camera: new Set(), screen: new Set() }, apart: new Map(), shares: new Set() };

const quiet = (): void => undefined;
/** The log when RoomMedia is given none (unit tests, benches). */
export const SILENT: Logger = { debug: quiet, info: quiet, warn: quiet, error: quiet };

export function peerOf(room: RoomContext, peerId: string): PeerMedia {
  const peer = room.peers.get(peerId);
  if (!peer) throw new ProtocolFailure('INVALID_STATE', 'Join the room first');
  return peer;
}

/** Refuses a request that would start forwarding media once this node no longer serves the room. */
export function requireServing(room: RoomContext): void {
  if (!room.mayAct()) throw new ProtocolFailure('UNAVAILABLE', 'This server no longer serves this session: reconnecting');
}

/**
 * Waits for jobs that each set up media for one member (or from one producer). One failing is
 * logged and never fails the others or the request that started them: another member's
 * trouble is not the requester's. Only the error's message is logged, never who it concerned.
 */
export async function settleEach(room: RoomContext, what: string, jobs: readonly Promise<void>[]): Promise<void> {
  for (const result of await Promise.allSettled(jobs)) {
    if (result.status === 'rejected') {
      room.log.warn(what, { error: result.reason instanceof Error ? result.reason.message : String(result.reason) });
    }
  }
}
