import { randomBytes, randomUUID } from 'node:crypto';
import {
  ProtocolFailure,
  isFacilitatorRole,
  type ClientToServerEvents,
  type CommandType,
  type EventName,
  type EventPayload,
  type SeatResume,
  type ServerToClientEvents,
} from '@group-room/shared';
import type { Server, Socket } from 'socket.io';
import type { LinkTokens } from '../auth/link-tokens.js';
import type { RoomCreationGate } from '../auth/room-creation.js';
import type { Config } from '../config.js';
import { roomTag, type Logger } from '../logger.js';
import type { LiveRoom } from '../live/live-room.js';
import type { LiveRooms } from '../live/live-rooms.js';
import type { RoomSessionHandle } from '../live/room-sessions.js';
import type { RoomMedia } from '../media/room-media.js';
import type { Metrics } from '../metrics/metrics.js';
import { authorise } from '../room/authorisation.js';
import { leave } from '../room/entry.js';
import { viewFor } from '../room/projection.js';
import { viewEventJson } from '../room/view-json.js';
import { dropSeat } from '../room/seats.js';
import type { RoomChange, RoomState } from '../room/state.js';
import { LeaseLost, type RoomStore } from '../store/room-store.js';
import { emitPreEncoded } from './pre-encoded.js';
import { InFlight, ROOM_CHANGES_PER_CONNECTION } from './request-limits.js';

/**
 * What the server learns of a socket as it connects: `addressKey` stands for the client's
 * address (a keyed digest, set by the per-address middleware in server.ts), which every
 * per-address limit counts by.
 */
export interface SocketData {
  addressKey: string;
}

export type SignalIo = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type SignalSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/** What the request handlers need from the node. */
export interface NodeDeps {
  store: RoomStore;
  rooms: LiveRooms;
  tokens: LinkTokens;
  config: Pick<
    Config,
    'ROOM_CAPACITY' | 'ROOM_GRACE_SECONDS' | 'SEAT_GRACE_SECONDS' | 'ENTRY_PER_ADDRESS' | 'ENTRY_PER_INVITE' | 'ENTRY_RESERVED' | 'SOCKET_REQUESTS_PER_SECOND' | 'ROOM_HORIZON_DAYS' | 'TURN_URLS' | 'TURN_SECRET' | 'TURN_CREDENTIAL_SECONDS' | 'SYNTHETIC_MEDIA'
  >;
  /** Who may create rooms (ROOM_CREATION). */
  roomCreation: RoomCreationGate;
  log: Logger;
  /** This signalling node, as seats record it. */
  nodeId: string;
  /** True while this node shuts down: its connections then close without touching seats. */
  draining: () => boolean;
  metrics?: Metrics;
}

/** A fresh resume nonce: each resume credential is good for the seat's current one only. */
export const newNonce = () => randomBytes(16).toString('base64url');

export interface Entered {
  room: LiveRoom;
  memberId: string;
}

/**
 * One connected client, and only the connection's own work: who it is in which live room, the
 * view it is owed (its outbox), and how many room changes it has queued. What it may ask is
 * in the handler modules (signaling/handlers/*), which work on the room through this.
 */
export class Connection implements RoomSessionHandle {
  readonly connectionId = randomUUID();
  readonly socket: SignalSocket;
  readonly #deps: NodeDeps;
  #entered: Entered | undefined;
  /** The media setup requests under way on this connection, in the order they came (inMediaOrder). */
  #mediaSetup: Promise<unknown> = Promise.resolve();
  /** Set from an enter request until it ends, so a second one cannot slip past the check. */
  entering = false;
  /**
   * Whether this connection answered with a resume credential for its seat. A connection
   * that closes before that leaves a seat nobody could resume: it is freed at once.
   */
  credentialSent = false;
  /** The last state version this client was sent a view of; older ones are never sent after. */
  #sentVersion = -1;
  /** The newest state whose view is held for this client until `flushView` (see ViewBatcher). */
  #heldView: RoomState | undefined;
  /** This connection's room changes waiting in (or running from) its room's queue. */
  readonly changes = new InFlight(ROOM_CHANGES_PER_CONNECTION, 'Too many changes at once: wait for the answers');

  constructor(socket: SignalSocket, deps: NodeDeps) {
    this.socket = socket;
    this.#deps = deps;
    socket.on('disconnect', () => {
      void this.#dropped().catch((error: unknown) => {
        deps.log.warn('seat not marked away after a disconnect', { error: error instanceof Error ? error.message : String(error) });
      });
    });
  }

  get entered(): Entered | undefined {
    return this.#entered;
  }

  /** Hold a seat in `room` through this connection from now on (`sentVersion`: the view it already has). */
  enterSeat(room: LiveRoom, memberId: string, sentVersion = -1): void {
    // The room closed while the seat was being taken (this node lost it): the client comes back
    // through the room's home, where the seat waits for its resume.
    if (room.closed) {
      setTimeout(() => this.socket.disconnect(true), 50).unref();
      throw new LeaseLost();
    }
    this.#entered = { room, memberId };
    this.#sentVersion = sentVersion;
    room.register(memberId, this);
  }

  /** Give the seat up on this connection (the room forgets it if it is still the one registered). */
  leaveSeat(): Entered | undefined {
    const entered = this.#entered;
    this.#entered = undefined;
    if (entered) entered.room.unregister(entered.memberId, this);
    return entered;
  }

  requireEntered(): Entered {
    if (!this.#entered) throw new ProtocolFailure('INVALID_STATE', 'Enter a room first');
    return this.#entered;
  }

  /**
   * Run one of the media setup requests (media:join, transport:create, media:ready) after those
   * this connection sent before it have settled: a page sends the next without waiting for the
   * answer (the receive transport right behind media:join, media:ready before that transport's
   * answer is in), so each still finds what the one before it made. One refused makes the next
   * refused too, as it would have been had it waited.
   */
  inMediaOrder<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#mediaSetup.then(work);
    this.#mediaSetup = run.catch(() => undefined);
    return run;
  }

  requireMedia(): Entered & { media: RoomMedia } {
    const entered = this.requireEntered();
    const media = entered.room.media;
    if (!media?.has(entered.memberId)) throw new ProtocolFailure('INVALID_STATE', 'Start media first');
    return { ...entered, media };
  }

  sendView(state: RoomState): void {
    if (!this.#entered) return;
    const held = this.#heldView;
    if (!held || held.id !== state.id || held.version < state.version) this.#heldView = state;
  }

  flushView(): void {
    const state = this.#heldView;
    this.#heldView = undefined;
    const entered = this.#entered;
    if (!state || !entered || state.id !== entered.room.id || state.version <= this.#sentVersion) return;
    const view = viewFor(state, entered.memberId);
    if (!view) return;
    this.#sentVersion = state.version;
    const serverNow = Date.now();
    // The parts every viewer shares are encoded once per state, not once per socket (view-json.ts).
    emitPreEncoded(this.socket, 'room:view', viewEventJson(view, serverNow), () => this.socket.emit('room:view', { view, serverNow }));
  }

  send<K extends EventName>(event: K, payload: EventPayload<K>): void {
    // After the view this client is owed: an event may be about what it shows (e.g. consumer:new).
    this.flushView();
    // Each event's payload type follows its name; the generic emit cannot see that.
    (this.socket.emit as (e: string, p: unknown) => void)(event, payload);
  }

  terminate(reason: EventPayload<'room:ended'>['reason']): void {
    // The views before the end still arrive before it, as they would have unbatched.
    this.flushView();
    // Media follows the seat (the room closes it when the seat goes), not this connection.
    if (!this.leaveSeat()) return;
    this.socket.emit('room:ended', { reason });
  }

  moveAway(): void {
    this.flushView();
    this.leaveSeat();
    this.socket.disconnect(true);
  }

  /** A resume credential for the seat as it now is (expires with the session's room state). */
  async resumeFor(state: RoomState, memberId: string): Promise<SeatResume> {
    const { tokens, config } = this.#deps;
    const nonce = state.members[memberId]?.resumeNonce ?? '';
    const expiresAt = state.session.endsAt + config.ROOM_GRACE_SECONDS * 1000;
    return { credential: await tokens.seat({ roomId: state.id, memberId, nonce }, expiresAt), memberId, graceSeconds: config.SEAT_GRACE_SECONDS };
  }

  /** The connection closed without "Leave": the seat stays, away, for the grace period (but at the entry agreement). */
  async #dropped(): Promise<void> {
    const entered = this.leaveSeat();
    if (!entered) return;
    const { log, draining } = this.#deps;
    // A node going away (or a room that moved) leaves its seats as they are; the home that
    // resumes them takes them over.
    if (draining() || !entered.room.acting) return;
    try {
      if (!this.credentialSent) {
        // Gone before its entry was answered: nobody holds a credential for this seat.
        await entered.room.queued(leave(entered.memberId));
        return;
      }
      // A seat at the entry agreement goes at once; any other is kept, away (see dropSeat).
      const state = await entered.room.queued(dropSeat(entered.memberId, this.connectionId));
      log.info(state.members[entered.memberId] ? 'connection lost; seat kept' : 'connection lost at the agreement; seat freed', { room: roomTag(entered.room.id) });
    } catch (error) {
      if (!(error instanceof ProtocolFailure && (error.code === 'NOT_FOUND' || error.code === 'UNAVAILABLE'))) throw error;
    }
  }

  /** Run a room's state change and its effects in the room's queue, in order with the others. */
  change(room: LiveRoom, change: RoomChange): Promise<RoomState> {
    // A facilitator's commands go ahead of whatever members have queued (a mute beats a flood).
    const memberId = this.#entered?.memberId;
    const role = memberId !== undefined ? room.latest?.members[memberId]?.role : undefined;
    const urgent = role !== undefined && isFacilitatorRole(role);
    return room.queued(change, { urgent });
  }

  /**
   * Run a request that will wait in its room's queue, holding one of this connection's few
   * places there (taken before `work` awaits anything; RATE_LIMITED when none is left).
   */
  async queuing<T>(work: () => Promise<T>): Promise<T> {
    const release = this.changes.take();
    try {
      return await work();
    } finally {
      release();
    }
  }

  /**
   * Refuse a command the authorisation table does not allow, as the change itself would, but
   * before it takes a place in the room's queue: checked against the latest state the room
   * published, which is what the client itself last saw. The change checks again against the
   * stored state. Skipped while this connection has a change of its own queued, as that one
   * may be what allows the next (e.g. acknowledging the agreement, then raising a hand).
   */
  precheck(room: LiveRoom, memberId: string, type: CommandType): void {
    const known = room.latest;
    if (!known || this.changes.count > 0) return;
    authorise(known, memberId, type);
  }
}
