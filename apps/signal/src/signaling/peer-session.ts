import { randomBytes, randomUUID } from 'node:crypto';
import {
  DEFAULT_AGREEMENT,
  isFacilitatorRole,
  type EventName,
  type EventPayload,
  ProtocolFailure,
  type ClientToServerEvents,
  type CommandType,
  type ProducerView,
  type RoomView,
  type SeatResume,
  type IceParameters,
  type RtpCapabilities,
  type ServerToClientEvents,
  type TransportOptions,
} from '@group-room/shared';
import type { types } from 'mediasoup';
import type { Server, Socket } from 'socket.io';
import type { LinkTokens } from '../auth/link-tokens.js';
import { clientAddress, type RoomCreationGate } from '../auth/room-creation.js';
import { turnCredentials } from '../auth/turn-credentials.js';
import type { Config } from '../config.js';
import { roomTag, type Logger } from '../logger.js';
import type { RoomMedia } from '../media/room-media.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RoomRegistry } from '../media/room-registry.js';
import { authorise } from '../room/authorisation.js';
import { applyCommand } from '../room/commands.js';
import { enter, leave } from '../room/entry.js';
import { clearProducers, disconnectSeat, resumeSeat } from '../room/seats.js';
import { putProducer, removeProducer, setProducerPaused } from '../room/producers.js';
import { viewFor } from '../room/projection.js';
import { facilitatorLinkGeneration, mediaAllowed, mediaPolicy, newRoom, rotateFacilitatorLink, type RoomState } from '../room/state.js';
import type { RoomStore } from '../store/room-store.js';
import { asWire } from '../wire.js';
import { InFlight, mediaSetUpBurst, RequestLimits, ROOM_CHANGES_PER_CONNECTION, SignalLimit } from './request-limits.js';
import { bindRequests, type RequestHandlers } from './request-router.js';
import type { RoomHomes } from './room-homes.js';
import type { RoomHub, RoomSessionHandle } from './room-hub.js';

export type SignalIo = Server<ClientToServerEvents, ServerToClientEvents>;
export type SignalSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

export interface SessionDeps {
  store: RoomStore;
  rooms: RoomRegistry;
  hub: RoomHub;
  tokens: LinkTokens;
  config: Pick<Config, 'ROOM_CAPACITY' | 'ROOM_GRACE_SECONDS' | 'SEAT_GRACE_SECONDS' | 'SOCKET_REQUESTS_PER_SECOND' | 'ROOM_HORIZON_DAYS' | 'TURN_URLS' | 'TURN_SECRET' | 'TURN_CREDENTIAL_SECONDS' | 'SYNTHETIC_MEDIA'>;
  /** Who may create rooms (ROOM_CREATION). */
  roomCreation: RoomCreationGate;
  log: Logger;
  /** This signalling node, as seats record it. */
  nodeId: string;
  /** True while this node shuts down: its connections then close without touching seats. */
  draining: () => boolean;
  metrics?: Metrics;
  /** Which node serves which room (one home node per room). */
  homes: RoomHomes;
}

/** Private signals are limited per person, whichever connection they come from (one limiter per process). */
const signalLimit = new SignalLimit();

/** A fresh resume nonce: each resume credential is good for the seat's current one only. */
const newNonce = () => randomBytes(16).toString('base64url');

interface Entered {
  roomId: string;
  memberId: string;
}

/** One connected client: who it is in which room, and its requests' handlers. */
export class PeerSession implements RoomSessionHandle {
  readonly connectionId = randomUUID();
  readonly #socket: SignalSocket;
  readonly #deps: SessionDeps;
  #entered: Entered | undefined;
  /** Set from an enter request until it ends, so a second one cannot slip past the check. */
  #entering = false;
  /**
   * Whether this connection answered with a resume credential for its seat. A connection
   * that closes before that leaves a seat nobody could resume: it is freed at once.
   */
  #credentialSent = false;
  /** The last state version this client was sent a view of; older ones are never sent after. */
  #sentVersion = -1;
  /** The newest state whose view is held for this client until `flushView` (see RoomHub). */
  #heldView: RoomState | undefined;
  /** This connection's room changes waiting in (or running from) its room's queue. */
  readonly #changes = new InFlight(ROOM_CHANGES_PER_CONNECTION, 'Too many changes at once: wait for the answers');
  /** The latest state of this person's room that this node published (to refuse a command before it queues). */
  #known: RoomState | undefined;

  constructor(socket: SignalSocket, deps: SessionDeps) {
    this.#socket = socket;
    this.#deps = deps;
    const limits = new RequestLimits({
      perSecond: deps.config.SOCKET_REQUESTS_PER_SECOND,
      inFlight: mediaSetUpBurst(deps.config.ROOM_CAPACITY),
    });
    bindRequests(socket, this.#handlers(), deps.log, limits, deps.metrics, () => deps.hub.viewsSent());
    socket.on('disconnect', () => {
      void this.#dropped().catch((error: unknown) => {
        deps.log.warn('seat not marked away after a disconnect', { error: error instanceof Error ? error.message : String(error) });
      });
    });
  }

  sendView(state: RoomState): void {
    if (!this.#entered) return;
    this.#remember(state);
    const held = this.#heldView;
    if (!held || held.id !== state.id || held.version < state.version) this.#heldView = state;
  }

  flushView(): void {
    const state = this.#heldView;
    this.#heldView = undefined;
    const entered = this.#entered;
    if (!state || !entered || state.id !== entered.roomId || state.version <= this.#sentVersion) return;
    const view = viewFor(state, entered.memberId);
    if (!view) return;
    this.#sentVersion = state.version;
    this.#socket.emit('room:view', { view, serverNow: Date.now() });
  }

  send<K extends EventName>(event: K, payload: EventPayload<K>): void {
    // After the view this client is owed: an event may be about what it shows (e.g. consumer:new).
    this.flushView();
    // Each event's payload type follows its name; the generic emit cannot see that.
    (this.#socket.emit as (e: string, p: unknown) => void)(event, payload);
  }

  terminate(reason: EventPayload<'room:ended'>['reason']): void {
    // The views before the end still arrive before it, as they would have unbatched.
    this.flushView();
    const entered = this.#entered;
    if (!entered) return;
    this.#entered = undefined;
    // Media follows the seat (the hub closes it when the seat goes), not this connection.
    this.#deps.hub.unregister(entered.roomId, entered.memberId, this);
    this.#socket.emit('room:ended', { reason });
  }

  moveAway(): void {
    this.flushView();
    const entered = this.#entered;
    this.#entered = undefined;
    if (entered) this.#deps.hub.unregister(entered.roomId, entered.memberId, this);
    this.#socket.disconnect(true);
  }

  #remember(state: RoomState): void {
    const known = this.#known;
    if (!known || known.id !== state.id || known.version < state.version) this.#known = state;
  }

  /** A resume credential for the seat as it now is (expires with the session's room state). */
  async #resumeFor(state: RoomState, memberId: string): Promise<SeatResume> {
    const { tokens, config } = this.#deps;
    const nonce = state.members[memberId]?.resumeNonce ?? '';
    const expiresAt = state.session.endsAt + config.ROOM_GRACE_SECONDS * 1000;
    return { credential: await tokens.seat({ roomId: state.id, memberId, nonce }, expiresAt), memberId, graceSeconds: config.SEAT_GRACE_SECONDS };
  }

  /** The connection closed without "Leave": the seat stays, away, for the grace period. */
  async #dropped(): Promise<void> {
    const entered = this.#entered;
    if (!entered) return;
    this.#entered = undefined;
    const { hub, log, draining } = this.#deps;
    hub.unregister(entered.roomId, entered.memberId, this);
    // A node going away leaves its seats as they are; the node that resumes them takes them over.
    if (draining()) return;
    try {
      if (!this.#credentialSent) {
        // Gone before its entry was answered: nobody holds a credential for this seat.
        await hub.queued(entered.roomId, leave(entered.memberId));
        return;
      }
      await hub.queued(entered.roomId, disconnectSeat(entered.memberId, this.connectionId));
      log.info('connection lost; seat kept', { room: roomTag(entered.roomId) });
    } catch (error) {
      if (!(error instanceof ProtocolFailure && error.code === 'NOT_FOUND')) throw error;
    }
  }

  #requireEntered(): Entered {
    if (!this.#entered) throw new ProtocolFailure('INVALID_STATE', 'Enter a room first');
    return this.#entered;
  }

  async #currentState(roomId: string): Promise<RoomState> {
    const state = await this.#deps.store.get(roomId);
    if (!state || state.ended) throw new ProtocolFailure('NOT_FOUND', 'This session has ended');
    return state;
  }

  #requireMedia(): Entered & { media: RoomMedia } {
    const entered = this.#requireEntered();
    const media = this.#deps.rooms.get(entered.roomId);
    if (!media?.has(entered.memberId)) throw new ProtocolFailure('INVALID_STATE', 'Start media first');
    return { ...entered, media };
  }

  /** Run a room's state change and its effects in the room's queue, in order with the others. */
  #change(roomId: string, change: Parameters<RoomHub['change']>[1]): Promise<RoomState> {
    // A facilitator's commands go ahead of whatever members have queued (a mute beats a flood).
    const memberId = this.#entered?.memberId;
    const role = memberId !== undefined && this.#known?.id === roomId ? this.#known.members[memberId]?.role : undefined;
    const urgent = role !== undefined && isFacilitatorRole(role);
    return this.#deps.hub.queued(roomId, change, { urgent });
  }

  /**
   * Run a request that will wait in its room's queue, holding one of this connection's few
   * places there (taken before `work` awaits anything; RATE_LIMITED when none is left).
   */
  async #queuing<T>(work: () => Promise<T>): Promise<T> {
    const release = this.#changes.take();
    try {
      return await work();
    } finally {
      release();
    }
  }

  /**
   * Refuse a command the authorisation table does not allow, as the change itself would, but
   * before it takes a place in the room's queue: checked against the latest state this node
   * published, which is what the client itself last saw. The change checks again against the
   * stored state. Skipped while this connection has a change of its own queued, as that one
   * may be what allows the next (e.g. acknowledging the agreement, then raising a hand).
   */
  #precheck(roomId: string, memberId: string, type: CommandType): void {
    const known = this.#known;
    if (known?.id !== roomId || this.#changes.count > 0) return;
    authorise(known, memberId, type);
  }

  /**
   * A seat is taken only on the room's home node. A client that reached another node (it
   * connected without naming the room, or the room moved meanwhile) is answered UNAVAILABLE
   * and its connection closed, so it connects again and is handed over.
   */
  async #atHome(roomId: string): Promise<void> {
    const where = await this.#deps.homes.claim(roomId);
    if (typeof where !== 'object') return;
    setTimeout(() => this.#socket.disconnect(true), 50).unref();
    throw new ProtocolFailure('UNAVAILABLE', 'This session is served by another server: reconnecting');
  }

  /** A resume attempt, counted as refused in the metrics when it fails. */
  async #counted<T>(resume: () => Promise<T>): Promise<T> {
    try {
      return await resume();
    } catch (error) {
      this.#deps.metrics?.resumed('refused');
      throw error;
    }
  }

  #handlers(): RequestHandlers {
    const { store, rooms, hub, tokens, config, log, nodeId, roomCreation, metrics } = this.#deps;
    return {
      'room:create': async ({ title, durationMinutes, startsAt, agreement, accessKey }) => {
        const { handshake } = this.#socket;
        await roomCreation.check(accessKey, clientAddress(handshake.address, handshake.headers['x-forwarded-for']));
        // Links live until the session's end: a session far in the future would make them live for ever.
        if (startsAt !== undefined && startsAt > Date.now() + config.ROOM_HORIZON_DAYS * 86_400_000) {
          throw new ProtocolFailure('BAD_REQUEST', `startsAt: a session can be scheduled at most ${config.ROOM_HORIZON_DAYS} days ahead`);
        }
        for (;;) {
          const roomId = randomBytes(12).toString('base64url');
          // The shared invite link's id is on record, so blocking it does not remove the whole group.
          const sharedInviteId = randomUUID();
          const room = newRoom({
            id: roomId,
            capacity: config.ROOM_CAPACITY,
            title,
            agreement: agreement ?? DEFAULT_AGREEMENT,
            startsAt: startsAt ?? Date.now(),
            durationMinutes,
            sharedInviteId,
          });
          if (!(await store.create(room))) continue;
          const expiresAt = room.session.endsAt + config.ROOM_GRACE_SECONDS * 1000;
          log.info('room created', { room: roomTag(roomId) });
          return {
            roomId,
            facilitatorToken: await tokens.sign({ roomId, role: 'facilitator', generation: 0 }, expiresAt),
            inviteToken: await tokens.sign({ roomId, role: 'member', inviteId: sharedInviteId }, expiresAt),
          };
        }
      },

      'room:enter': async ({ roomId, token, displayName }) => {
        if (this.#entered || this.#entering) throw new ProtocolFailure('INVALID_STATE', 'Already in a room');
        this.#entering = true;
        try {
          const grant = await tokens.verify(token, roomId);
          await this.#atHome(roomId);
          const memberId = randomUUID();
          const inviteId = grant.role === 'member' ? grant.inviteId : null;
          const linkGeneration = grant.role === 'facilitator' ? grant.generation : undefined;
          const connection = { connectionId: this.connectionId, node: nodeId, resumeNonce: newNonce() };
          return await rooms.queue.run(roomId, async () => {
            if (this.#socket.disconnected) throw new ProtocolFailure('INVALID_STATE', 'Disconnected while entering');
            // Registered first, so the publish after the change reaches this person too.
            this.#entered = { roomId, memberId };
            this.#sentVersion = -1;
            hub.register(roomId, memberId, this);
            let state: RoomState;
            try {
              state = await hub.change(roomId, enter({ id: memberId, displayName, role: grant.role, inviteId, linkGeneration, connection }));
            } catch (error) {
              this.#entered = undefined;
              hub.unregister(roomId, memberId, this);
              throw error;
            }
            log.info('entered', { room: roomTag(roomId), role: grant.role, people: Object.keys(state.members).length });
            const resume = await this.#resumeFor(state, memberId);
            this.#credentialSent = true;
            return { view: viewFor(state, memberId) as RoomView, resume };
          });
        } finally {
          this.#entering = false;
        }
      },

      'room:resume': async ({ roomId, credential }) => {
        const held = this.#entered;
        if (held) {
          // This connection already holds that seat (the answer to its resume timed out): answer again.
          const seat = await tokens.verifySeat(credential, roomId);
          if (held.roomId !== roomId || held.memberId !== seat.memberId) throw new ProtocolFailure('INVALID_STATE', 'Already in a room');
          const state = await this.#currentState(roomId);
          return { view: viewFor(state, held.memberId) as RoomView, resume: await this.#resumeFor(state, held.memberId) };
        }
        if (this.#entering) throw new ProtocolFailure('INVALID_STATE', 'Already in a room');
        this.#entering = true;
        try {
          // A room that is gone says so first, whatever the credential: after a restart without
          // Redis the room and the secret that signed the credential went together.
          return await this.#counted(async () => {
            await this.#currentState(roomId);
            const seat = await tokens.verifySeat(credential, roomId);
            await this.#atHome(roomId);
            return await rooms.queue.run(roomId, async () => {
              if (this.#socket.disconnected) throw new ProtocolFailure('INVALID_STATE', 'Disconnected while resuming');
              const connection = { connectionId: this.connectionId, node: nodeId, resumeNonce: newNonce() };
              // Taken first, registered after: a refused resume must not disturb the seat's live connection.
              const state = await hub.change(roomId, resumeSeat(seat.memberId, seat.nonce, connection));
              this.#entered = { roomId, memberId: seat.memberId };
              this.#sentVersion = state.version;
              this.#remember(state);
              hub.register(roomId, seat.memberId, this);
              rooms.get(roomId)?.rebind(seat.memberId, (event, payload) => this.send(event, payload));
              const me = state.members[seat.memberId];
              log.info('resumed', { room: roomTag(roomId), role: me?.role });
              metrics?.resumed('ok');
              // The credential it came with stays good while the seat is away (see resumeSeat).
              this.#credentialSent = true;
              return { view: viewFor(state, seat.memberId) as RoomView, resume: await this.#resumeFor(state, seat.memberId) };
            });
          });
        } finally {
          this.#entering = false;
        }
      },

      'room:leave': async () => {
        await this.leave();
        return {};
      },

      'room:command': async ({ command }) => {
        const { roomId, memberId } = this.#requireEntered();
        this.#precheck(roomId, memberId, command.type);
        const arrived = performance.now();
        // Applied means its effects too: a mute has paused the producers on the SFU by now.
        await this.#queuing(() => this.#change(roomId, applyCommand(memberId, command)));
        metrics?.commandApplied(command.type, (performance.now() - arrived) / 1000);
        return {};
      },

      'signal:send': async ({ signal }) => {
        const { roomId, memberId } = this.#requireEntered();
        const state = await this.#currentState(roomId);
        const me = state.members[memberId];
        // Past the entry agreement: waiting, in the room, or re-reading a changed agreement
        // (someone paused for that may well need a moment).
        if (!me || me.role !== 'member' || me.stage === 'agreement') {
          throw new ProtocolFailure('FORBIDDEN', 'Private signals are for members in the room or waiting to come in');
        }
        await signalLimit.take(roomId, memberId);
        const text = signal.kind === 'message' ? signal.text : null;
        const delivered = hub.toFacilitators(roomId, 'signal:private', {
          id: randomUUID(),
          from: memberId,
          displayName: me.displayName,
          kind: signal.kind,
          text,
          at: Date.now(),
        });
        if (delivered === 0) throw new ProtocolFailure('INVALID_STATE', 'No facilitator is connected right now');
        return {};
      },

      'invite:create': async () => {
        const { roomId, memberId } = this.#requireEntered();
        const state = await this.#currentState(roomId);
        const me = state.members[memberId];
        if (!me || !isFacilitatorRole(me.role)) throw new ProtocolFailure('FORBIDDEN', 'Only facilitators can make invite links');
        return { inviteToken: await tokens.invite(roomId, state.session.endsAt + config.ROOM_GRACE_SECONDS * 1000) };
      },

      'link:rotateFacilitator': async () => {
        const { roomId, memberId } = this.#requireEntered();
        // Through the room's queue and the store like every change: an entry with the old link
        // queued before it still lands, every one after it is refused.
        const state = await this.#queuing(() => this.#change(roomId, rotateFacilitatorLink(memberId)));
        log.info('facilitator link replaced', { room: roomTag(roomId) });
        const expiresAt = state.session.endsAt + config.ROOM_GRACE_SECONDS * 1000;
        return { facilitatorToken: await tokens.sign({ roomId, role: 'facilitator', generation: facilitatorLinkGeneration(state) }, expiresAt) };
      },

      'media:join': async () => {
        const { roomId, memberId } = this.#requireEntered();
        return this.#queuing(() =>
          rooms.queue.run(roomId, async () => {
            const state = await this.#currentState(roomId);
            if (!mediaAllowed(state, memberId)) {
              throw new ProtocolFailure('FORBIDDEN', 'Media starts once you are admitted and have agreed to the current agreement');
            }
            // Media starts afresh for this seat (e.g. after a reload): the old page's producers go.
            // (Before opening the router: publishing a change closes a router nobody is in.)
            const current = await hub.change(roomId, clearProducers(memberId));
            const media = await rooms.open(roomId);
            media.removePeer(memberId);
            media.addPeer(memberId, (event, payload) => this.send(event, payload));
            await media.applyPolicy(mediaPolicy(current));
            return { routerRtpCapabilities: asWire<RtpCapabilities>(media.router.rtpCapabilities), iceServers: turnCredentials(config) };
          }),
        );
      },

      'transport:create': async ({ direction }) => {
        const { memberId, media } = this.#requireMedia();
        return asWire<TransportOptions>(await media.createTransport(memberId, direction));
      },

      'transport:restartIce': async ({ transportId }) => {
        const { memberId, media } = this.#requireMedia();
        return { iceParameters: asWire<IceParameters>(await media.restartIce(memberId, transportId)) };
      },

      'media:resync': async () => {
        const { memberId, media } = this.#requireMedia();
        return { consumerIds: media.resync(memberId) };
      },

      'transport:createPlain': async ({ direction }) => {
        if (!config.SYNTHETIC_MEDIA) throw new ProtocolFailure('FORBIDDEN', 'Plain RTP transports are for load tests only');
        const { memberId, media } = this.#requireMedia();
        return media.createPlainTransport(memberId, direction);
      },

      'transport:connectPlain': async ({ transportId, ip, port }) => {
        if (!config.SYNTHETIC_MEDIA) throw new ProtocolFailure('FORBIDDEN', 'Plain RTP transports are for load tests only');
        const { memberId, media } = this.#requireMedia();
        await media.connectPlain(memberId, transportId, ip, port);
        return {};
      },

      'transport:connect': async ({ transportId, dtlsParameters }) => {
        const { memberId, media } = this.#requireMedia();
        await media.connectTransport(memberId, transportId, asWire<types.DtlsParameters>(dtlsParameters));
        return {};
      },

      // The next three record their media step in the room's state: each holds one of the
      // connection's places in the queue from the start, so a refusal comes before the media step.
      'media:produce': async ({ transportId, kind, source, rtpParameters, paused }) => {
        const { roomId, memberId, media } = this.#requireMedia();
        return this.#queuing(async () => {
          const producer = await media.produce(memberId, { transportId, kind, source, paused, rtpParameters: asWire<types.RtpParameters>(rtpParameters) });
          const view: ProducerView = { id: producer.id, kind, source, paused };
          try {
            await this.#change(roomId, putProducer(memberId, view));
          } catch (error) {
            producer.close();
            throw error;
          }
          return { producerId: producer.id };
        });
      },

      'media:setProducerPaused': async ({ producerId, paused }) => {
        const { roomId, memberId, media } = this.#requireMedia();
        return this.#queuing(async () => {
          await media.setProducerPaused(memberId, producerId, paused);
          // Record the latest wish when the change runs, not this request's: a quick mute and
          // unmute finish their media steps out of order, and the view must end as the media does.
          await this.#change(roomId, (state) => setProducerPaused(memberId, producerId, media.selfPaused(memberId, producerId) ?? paused)(state));
          return {};
        });
      },

      'media:closeProducer': async ({ producerId }) => {
        const { roomId, memberId, media } = this.#requireMedia();
        return this.#queuing(async () => {
          media.closeProducer(memberId, producerId);
          await this.#change(roomId, removeProducer(memberId, producerId));
          return {};
        });
      },

      'media:ready': async ({ rtpCapabilities }) => {
        const { memberId, media } = this.#requireMedia();
        await media.setReady(memberId, asWire<types.RtpCapabilities>(rtpCapabilities));
        return {};
      },

      'media:receiveVideo': async ({ video }) => {
        const { memberId, media } = this.#requireMedia();
        await media.receiveVideo(memberId, video);
        return {};
      },

      'consumer:resume': async ({ consumerId }) => {
        const { memberId, media } = this.#requireMedia();
        await media.resumeConsumer(memberId, consumerId);
        return {};
      },

      'consumer:prefer': async ({ consumerId, visible, height }) => {
        const { memberId, media } = this.#requireMedia();
        await media.preferConsumer(memberId, consumerId, { visible, height });
        return {};
      },
    };
  }

  /** Leave (on request or disconnect): media first, then state, then everyone's views. */
  async leave(): Promise<void> {
    const entered = this.#entered;
    if (!entered) return;
    this.#entered = undefined;
    const { roomId, memberId } = entered;
    const { rooms, hub, log } = this.#deps;
    await rooms.queue.run(roomId, async () => {
      rooms.get(roomId)?.removePeer(memberId);
      hub.unregister(roomId, memberId, this);
      try {
        await hub.change(roomId, leave(memberId));
      } catch (error) {
        if (!(error instanceof ProtocolFailure && error.code === 'NOT_FOUND')) throw error;
      } finally {
        rooms.closeIfEmpty(roomId);
      }
      log.info('left', { room: roomTag(roomId) });
    });
  }
}
