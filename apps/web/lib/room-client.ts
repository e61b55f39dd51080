import {
  PrivateSignalRequest,
  ProtocolFailure,
  summariseZodError,
  type Command,
  type CommandOf,
  type EventPayload,
  type MediaSource,
  type MemberSummary,
  type PrivateSignal,
  type RequestName,
  type RequestPayload,
  type ResponseData,
  type RoomView,
  type SeatResume,
} from '@group-room/shared';
import { Device } from 'mediasoup-client';
import type { Consumer, IceParameters, Producer, RtpCapabilities, Transport, TransportOptions } from 'mediasoup-client/types';
import { describeError as describe } from './describe-error';
import { resumeOutcome, resumeRetryDelay } from './reconnect';
import { forgetSeat, keepSeat, keptSeat } from './seat';
import { SignalClient } from './signal-client';

/** An admitted person other than oneself, with the media received from them. */
export interface RemotePeer extends MemberSummary {
  audio?: MediaStreamTrack;
  video?: MediaStreamTrack;
}

/**
 * Where this person is. The room page renders one screen per status and puts it on
 * `main[data-status]` (the browser tests wait on it):
 * - `idle`: the entry form (name, "somewhere private").
 * - `entering`: `room:enter` is in flight, or (after a reload) `room:resume` (see `returning`).
 * - `agreement`: a member reading the group agreement before the waiting room.
 * - `waiting`: a member who accepted the agreement, waiting to be let in (no names, no media).
 * - `connecting`: admitted; camera, microphone and transports are being set up (or set up again).
 * - `joined`: in the room with media.
 * - `reacknowledge`: admitted, but the agreement changed; media is paused by the server
 *   until this person accepts the new text.
 * - `left`: this person left.
 * - `ended`: their membership ended (see `endReason`).
 * - `error`: could not enter, or the connection or the media failed (see `message`).
 * A dropped connection does not change the status: see `connection`.
 */
export type RoomStatus =
  | 'idle'
  | 'entering'
  | 'agreement'
  | 'waiting'
  | 'connecting'
  | 'joined'
  | 'reacknowledge'
  | 'left'
  | 'ended'
  | 'error';

/**
 * Why the membership ended: the server's reasons (`room:ended`), or what a resume found:
 * `seat-lost` (the seat was not kept) and `session-gone` (the session no longer exists).
 */
export type EndReason = EventPayload<'room:ended'>['reason'] | 'seat-lost' | 'session-gone';

/**
 * The connection to the session, on `main[data-connection]`: `reconnecting` from a drop (or a
 * reload) until the seat is taken back on a new connection, whatever the screen.
 */
export type ConnectionStatus = 'online' | 'reconnecting';

/** Why it is reconnecting, for the banner's words. */
export type ReconnectCause = 'dropped' | 'server-restart';

/** The latest speaking times (facilitators only), as the server last reported them. */
export type TalkTimeReport = EventPayload<'talk:time'>;

/** What a member can send the facilitators privately (before normalisation). */
export type PrivateSignalInput = RequestPayload<'signal:send'>['signal'];

/** Private signals kept in this tab's memory (newest first), never stored anywhere. */
export const PRIVATE_SIGNALS_KEPT = 50;

export interface RoomSnapshot {
  status: RoomStatus;
  connection: ConnectionStatus;
  reconnectCause?: ReconnectCause;
  /** After a reload: this tab's seat is being taken back ("Returning to the session…", not the entry form). */
  returning: boolean;
  /** Audio and video are being set up again (the server's media restarted, or could not be repaired). */
  mediaRestarting: boolean;
  /** This person's projection of the room, once entered. */
  view?: RoomView;
  endReason?: EndReason;
  /** Why entering failed or the connection ended; shown to the person. */
  message?: string;
  /** Shown on the entry form, e.g. that an earlier place in the session was not kept. */
  notice?: string;
  localStream?: MediaStream;
  micOn: boolean;
  camOn: boolean;
  /** Set when the browser gave us less than a microphone and a camera. */
  deviceWarning?: string;
  /** Admitted people other than oneself, in room order (empty until one may see names). */
  peers: RemotePeer[];
  /** Facilitators: members' private signals, newest first, in this page's memory only. */
  privateSignals: PrivateSignal[];
}

export type ActionResult<T = undefined> = { ok: true; data: T } | { ok: false; message: string };

/**
 * One value the UI subscribes to apart from the snapshot (useSyncExternalStore), for what
 * changes too often to re-render the whole room: the talk-time report, about once a second.
 */
export class ValueStore<T> {
  #value: T;
  readonly #listeners = new Set<() => void>();

  constructor(initial: T) {
    this.#value = initial;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getSnapshot = (): T => this.#value;

  set(value: T): void {
    if (Object.is(value, this.#value)) return;
    this.#value = value;
    for (const listener of this.#listeners) listener();
  }
}

type Phase = 'idle' | 'entering' | 'in' | 'left' | 'ended' | 'error';
type MediaPhase = 'none' | 'connecting' | 'ready';

/** mediasoup-client's interfaces and our wire schemas describe the same JSON. */
const wire = <T,>(value: object): T => value as T;

/** A media start that a newer one (or leaving) replaced: it stops quietly. */
class Superseded extends Error {}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How long the seat is kept, should the server not have said (it always does). */
const DEFAULT_GRACE_SECONDS = 120;
/** A transport's ICE that went `disconnected` often comes back by itself: this long first. */
const ICE_DISCONNECTED_WAIT_MS = 2000;
/** After an ICE restart, looked at again this much later, and restarted again if still broken. */
const ICE_RECHECK_MS = 8000;
/** After `server:draining` the server closes the connection; if it has not after this, we do. */
const DRAIN_WAIT_MS = 5000;
/** After the server closed the connection itself, a new one is opened after this (to twice this). */
const SERVER_CLOSED_WAIT_MS = 500;
/** A connection the server refused (rather than could not be reached) is tried again after this. */
const RETRY_REFUSED_MS = 3000;

const LOST_SEAT = 'Your earlier place in this session was not kept. You can enter again.';
const NOT_RESTORED = 'The connection to the session could not be restored. Check your internet connection, then try again.';

export const initialSnapshot: RoomSnapshot = {
  status: 'idle',
  connection: 'online',
  returning: false,
  mediaRestarting: false,
  micOn: false,
  camOn: false,
  peers: [],
  privateSignals: [],
};

/**
 * One person's connection to a room: signalling, the room view the server pushes, and
 * (once the server allows media) the mediasoup-client Device, a send and a receive
 * transport, local producers and remote consumers. The UI reads immutable snapshots and
 * calls one method per command.
 *
 * A seat outlives its connection. Entering gives a resume credential, kept in the tab's
 * sessionStorage (lib/seat). When the connection drops, the screen stays and
 * `connection` is `reconnecting`; socket.io reconnects by itself and each new connection
 * asks `room:resume` (retrying while the server is unavailable) until the seat is back or
 * the grace period is over. Back in, the transports' ICE is restarted and the consumers
 * resynchronised, or, when the server no longer has them, media is set up again from
 * `media:join` (as it is after `media:reset`). A reload takes the seat back the same way.
 */
export class RoomClient {
  #snapshot: RoomSnapshot = initialSnapshot;
  readonly #listeners = new Set<() => void>();
  /** Facilitators: each member's speaking time so far, about once a second (see useTalkTime). */
  readonly talkTime = new ValueStore<TalkTimeReport | undefined>(undefined);
  readonly #roomId: string;
  #phase: Phase = 'idle';
  #mediaPhase: MediaPhase = 'none';
  #signal: SignalClient | undefined;
  /** The resume credential to use next (also in sessionStorage); single-use, replaced by each resume. */
  #seat: SeatResume | undefined;
  #connection: ConnectionStatus = 'online';
  /** Bumped at each drop, so a media start that lived through one knows it. */
  #drops = 0;
  /** The connection a resume is running on (one at a time: a credential is good once). */
  #resuming: SignalClient | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  #detachTimer: ReturnType<typeof setTimeout> | undefined;
  /** Counts views received, so an answer's older view does not replace a newer pushed one. */
  #viewCount = 0;
  #sendTransport: Transport | undefined;
  #recvTransport: Transport | undefined;
  /** Bumped whenever media is let go, so a start still under way knows it is no longer current. */
  #mediaRun = 0;
  readonly #producers = new Map<MediaSource, Producer>();
  readonly #consumers = new Map<string, { consumer: Consumer; peerId: string }>();
  /** Consumers being set up: announced again meanwhile, they are not set up twice. */
  readonly #pendingConsumers = new Set<string>();
  /** ICE restarts in flight, by transport id (one at a time each). */
  readonly #iceRestarts = new Map<string, Promise<void>>();
  /** A transport's next look at its ICE state, by transport id. */
  readonly #iceTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Received tracks by member id; kept apart from the view so their order never matters. */
  readonly #tracks = new Map<string, { audio?: MediaStreamTrack; video?: MediaStreamTrack }>();
  /** Set when #tracks changed since `peers` was last built. */
  #tracksChanged = false;
  #localMedia: Promise<void> | undefined;
  /** Bumped when the camera is released, so a late getUserMedia answer is let go at once. */
  #mediaGeneration = 0;
  /** The server's clock minus this one, as of the last view (late by the view's trip, a few ms). */
  #clockOffset = 0;

  constructor(roomId: string) {
    this.#roomId = roomId;
    const seat = keptSeat(roomId);
    if (seat) {
      // A reload: the seat is taken back (see attach) instead of showing the entry form.
      this.#seat = seat;
      this.#phase = 'entering';
      this.#connection = 'reconnecting';
      this.#snapshot = { ...initialSnapshot, status: 'entering', connection: 'reconnecting', returning: true };
    }
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getSnapshot = (): RoomSnapshot => this.#snapshot;

  /**
   * The server's time now, as well as this page can tell: what countdowns to server times
   * (`floor.turnEndsAt`, `session.endsAt`) count against. This browser's clock until a view arrives.
   */
  serverNow = (): number => Date.now() + this.#clockOffset;

  #update(patch: Partial<RoomSnapshot>): void {
    const next = { ...this.#snapshot, ...patch };
    next.status = this.#status(next.view);
    // Kept as they were unless the view or the received tracks changed, so tiles do not re-render for nothing.
    if ('view' in patch || this.#tracksChanged) {
      next.peers = this.#peers(next.view);
      this.#tracksChanged = false;
    }
    this.#snapshot = next;
    for (const listener of this.#listeners) listener();
  }

  #status(view: RoomView | undefined): RoomStatus {
    if (this.#phase !== 'in') return this.#phase;
    if (!view) return 'entering';
    const { self } = view;
    if (self.stage === 'agreement') return 'agreement';
    if (self.stage === 'waiting') return 'waiting';
    if (self.mustAcknowledge) return 'reacknowledge';
    return self.media && this.#mediaPhase === 'ready' ? 'joined' : 'connecting';
  }

  #peers(view: RoomView | undefined): RemotePeer[] {
    if (!view?.members) return [];
    return view.members.filter((m) => m.id !== view.self.id).map((m) => ({ ...m, ...this.#tracks.get(m.id) }));
  }

  /** Ask for camera and microphone once, falling back to whatever the browser allows. */
  openLocalMedia(): Promise<void> {
    this.#localMedia ??= this.#requestLocalMedia();
    return this.#localMedia;
  }

  async #requestLocalMedia(): Promise<void> {
    if (typeof navigator === 'undefined' || !navigator.mediaDevices?.getUserMedia) {
      this.#update({ deviceWarning: 'This browser cannot use a camera or microphone here: you can watch and listen only.' });
      return;
    }
    const video = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } };
    const attempts: [MediaStreamConstraints, string | undefined][] = [
      [{ audio: true, video }, undefined],
      [{ audio: true }, 'No camera is available: others will hear you but not see you.'],
      [{ video }, 'No microphone is available: others will see you but not hear you.'],
    ];
    const generation = this.#mediaGeneration;
    for (const [constraints, warning] of attempts) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia(constraints);
        if (generation !== this.#mediaGeneration) {
          for (const track of stream.getTracks()) track.stop();
          return;
        }
        this.#update({
          localStream: stream,
          micOn: stream.getAudioTracks().length > 0,
          camOn: stream.getVideoTracks().length > 0,
          deviceWarning: warning,
        });
        return;
      } catch {
        // try the next, smaller request
      }
    }
    this.#update({ deviceWarning: 'Camera and microphone are blocked: you can watch and listen only.' });
  }

  // --- The page's lifetime.

  /** The room page shows this client: open the camera preview, and take back a seat this tab kept (a reload). */
  attach(): void {
    clearTimeout(this.#detachTimer);
    this.#detachTimer = undefined;
    void this.openLocalMedia();
    if (this.#snapshot.returning && !this.#signal) this.#returnToSeat();
  }

  /**
   * The page no longer shows it: let go on the next tick, unless it is shown again at once
   * (React mounts twice in development; letting go in between would give the seat up).
   */
  detach(): void {
    clearTimeout(this.#detachTimer);
    this.#detachTimer = setTimeout(() => this.dispose(), 0);
  }

  // --- Entering, and taking the seat back.

  /** Enter with a link's token; the server decides the role and where this person starts. */
  async enter(token: string, displayName: string): Promise<void> {
    if (this.#phase === 'entering' || this.#phase === 'in') return;
    this.#phase = 'entering';
    this.#mediaPhase = 'none';
    this.#tracks.clear();
    this.#tracksChanged = true;
    this.talkTime.set(undefined);
    this.#update({ view: undefined, endReason: undefined, message: undefined, notice: undefined, privateSignals: [] });
    const signal = this.#connect();
    const seen = this.#viewCount;
    try {
      const { view, resume } = await signal.request('room:enter', { roomId: this.#roomId, token, displayName });
      if (this.#signal !== signal) return;
      this.#keepSeat(resume);
      signal.seat();
      this.#phase = 'in';
      // A view pushed before the answer is the newer one.
      this.#setView(this.#viewCount === seen ? view : (this.#snapshot.view ?? view));
    } catch (error) {
      if (this.#signal !== signal) return;
      this.#end('error', { message: describeEntryFailure(error) });
    }
  }

  /** After a reload: take this tab's seat back before anything else is shown. */
  #returnToSeat(): void {
    if (!this.#seat) return;
    const signal = this.#connect();
    this.#startGrace();
    // Asks as soon as the socket is connected (the 'connect' listener asks too; only one runs).
    void this.#resume(signal);
  }

  #connect(): SignalClient {
    const signal = new SignalClient({ seatGate: true });
    this.#signal = signal;
    this.#listen(signal);
    return signal;
  }

  #listen(signal: SignalClient): void {
    signal.on('room:view', ({ view, serverNow }) => {
      if (this.#signal !== signal) return;
      // The latest reading wins: a clock that jumps is followed at the next view.
      this.#clockOffset = serverNow - Date.now();
      this.#viewCount++;
      this.#setView(view);
    });
    signal.on('consumer:new', (event) => {
      if (this.#signal !== signal) return;
      this.#consume(signal, event).catch((error: unknown) => console.warn("could not receive a member's media:", describe(error)));
    });
    signal.on('consumer:closed', ({ consumerId }) => {
      if (this.#signal === signal) this.#closeConsumer(consumerId);
    });
    signal.on('talk:time', (report) => {
      if (this.#signal === signal) this.talkTime.set(report);
    });
    signal.on('signal:private', (received) => {
      if (this.#signal !== signal || this.#snapshot.privateSignals.some((s) => s.id === received.id)) return;
      this.#update({ privateSignals: [received, ...this.#snapshot.privateSignals].slice(0, PRIVATE_SIGNALS_KEPT) });
    });
    signal.on('room:ended', ({ reason }) => {
      if (this.#signal !== signal) return;
      this.#end('ended', { endReason: reason });
    });
    signal.on('server:draining', () => {
      if (this.#signal === signal && this.#phase === 'in') this.#serverDraining(signal);
    });
    signal.on('media:reset', () => {
      // The server's media for the room was lost: whatever this page had of it is dead too.
      if (this.#signal === signal && this.#phase === 'in') this.#rebuildMedia();
    });
    signal.socket.on('disconnect', (reason) => {
      if (this.#signal !== signal || reason === 'io client disconnect') return;
      // An enter in flight fails by itself (socket.io lets its request go); a seat is kept and resumed.
      if (this.#phase !== 'in' && !this.#snapshot.returning) return;
      this.#lostConnection(signal, 'dropped');
      // socket.io reconnects by itself, except when the server closed the connection: then we do,
      // after a moment (a server that keeps closing connections is not asked in a tight loop).
      if (reason === 'io server disconnect') {
        setTimeout(() => {
          if (this.#signal === signal && this.#connection === 'reconnecting' && !signal.socket.active) signal.socket.connect();
        }, SERVER_CLOSED_WAIT_MS * (1 + Math.random()));
      }
    });
    signal.socket.on('connect', () => {
      if (this.#signal === signal && this.#connection === 'reconnecting') void this.#resume(signal);
    });
    signal.socket.on('connect_error', () => {
      // Refused (not merely unreachable), socket.io stops trying: try again a little later.
      if (this.#signal !== signal || this.#connection !== 'reconnecting' || signal.socket.active) return;
      setTimeout(() => {
        if (this.#signal === signal && !signal.socket.active) signal.socket.connect();
      }, RETRY_REFUSED_MS);
    });
  }

  /** The connection dropped (or is about to): keep the screen and the seat, and wait for the next one. */
  #lostConnection(signal: SignalClient, cause: ReconnectCause): void {
    signal.unseat();
    if (this.#connection === 'reconnecting') {
      if (cause === 'server-restart' && this.#snapshot.reconnectCause !== cause) this.#update({ reconnectCause: cause });
      return;
    }
    this.#drops++;
    this.#connection = 'reconnecting';
    this.#startGrace();
    this.#update({ connection: 'reconnecting', reconnectCause: cause });
  }

  #serverDraining(signal: SignalClient): void {
    this.#lostConnection(signal, 'server-restart');
    clearTimeout(this.#drainTimer);
    // The server closes this connection next; if it does not, close it so the resume reaches whichever server is up.
    this.#drainTimer = setTimeout(() => {
      if (this.#signal !== signal || this.#connection !== 'reconnecting' || !signal.socket.connected) return;
      signal.socket.disconnect();
      signal.socket.connect();
    }, DRAIN_WAIT_MS);
  }

  /** The seat is kept this long after the drop (or the reload): past it, stop and say so. */
  #startGrace(): void {
    clearTimeout(this.#graceTimer);
    const seconds = this.#seat?.graceSeconds ?? DEFAULT_GRACE_SECONDS;
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = undefined;
      if (this.#connection === 'reconnecting') this.#end('error', { message: NOT_RESTORED });
    }, seconds * 1000);
  }

  /** Take the seat back on this connection; one resume at a time (each credential is good once). */
  async #resume(signal: SignalClient): Promise<void> {
    if (this.#resuming === signal) return;
    this.#resuming = signal;
    try {
      await this.#resumeUntilAnswered(signal);
    } finally {
      if (this.#resuming === signal) this.#resuming = undefined;
    }
  }

  /**
   * Ask `room:resume` until the server says yes or no. While it is unavailable, ask again with
   * backoff (the grace timer ends it); once the socket is down, stop: the next connection asks.
   */
  async #resumeUntilAnswered(signal: SignalClient): Promise<void> {
    let attempt = 0;
    while (this.#signal === signal && this.#connection === 'reconnecting' && signal.socket.connected) {
      const seat = this.#seat;
      if (!seat) return this.#end('error', { message: NOT_RESTORED });
      const seen = this.#viewCount;
      try {
        const { view, resume } = await signal.request('room:resume', { roomId: this.#roomId, credential: seat.credential });
        if (this.#signal !== signal) return;
        return this.#resumed(signal, this.#viewCount === seen ? view : undefined, resume);
      } catch (error) {
        if (this.#signal !== signal) return;
        const outcome = resumeOutcome(error);
        if (outcome !== 'retry') return this.#seatGone(outcome);
        console.warn('the seat could not be taken back yet:', describe(error));
        await sleep(resumeRetryDelay(++attempt));
      }
    }
  }

  /** Back in the seat: the same screen, with the server's view, and media repaired. */
  #resumed(signal: SignalClient, view: RoomView | undefined, seat: SeatResume): void {
    this.#keepSeat(seat);
    clearTimeout(this.#graceTimer);
    clearTimeout(this.#drainTimer);
    signal.seat();
    this.#phase = 'in';
    this.#connection = 'online';
    const back: Partial<RoomSnapshot> = { connection: 'online', reconnectCause: undefined, returning: false, notice: undefined };
    // Without a view here, a newer one was pushed already; setting it again starts media if it may.
    const latest = view ?? this.#snapshot.view;
    if (latest) this.#setView(latest, back);
    else this.#update(back);
    void this.#repairMedia(signal);
  }

  /** The resume was refused: the seat, or the whole session, is gone. */
  #seatGone(outcome: 'seat-lost' | 'session-gone'): void {
    if (outcome === 'session-gone') return this.#end('ended', { endReason: 'session-gone' });
    // After a reload, straight to the entry form (camera preview kept), saying why.
    if (this.#snapshot.returning) return this.#end('idle', { notice: LOST_SEAT });
    this.#end('ended', { endReason: 'seat-lost' });
  }

  #keepSeat(seat: SeatResume): void {
    this.#seat = seat;
    keepSeat(this.#roomId, seat);
  }

  #forgetSeat(): void {
    this.#seat = undefined;
    forgetSeat(this.#roomId);
  }

  /** `also`: more of the snapshot to change in the same update (one render, one status). */
  #setView(view: RoomView, also: Partial<RoomSnapshot> = {}): void {
    // What is for facilitators only goes with the role (e.g. a co-facilitator made a member again).
    const facilitatorOnly = view.facilitation ? {} : { privateSignals: [] };
    if (!view.facilitation) this.talkTime.set(undefined);
    this.#update({ ...also, view, ...facilitatorOnly });
    this.#startMediaIfAllowed();
  }

  // --- Media: started once per entry (after a re-acknowledgement the server resumes paused media
  // itself), repaired after a resume, and started again when the server's media was lost.

  #startMediaIfAllowed(): void {
    const signal = this.#signal;
    if (!signal?.seated || this.#phase !== 'in' || this.#mediaPhase !== 'none' || !this.#snapshot.view?.self.media) return;
    void this.#startMedia(signal);
  }

  async #startMedia(signal: SignalClient): Promise<void> {
    const run = ++this.#mediaRun;
    const drops = this.#drops;
    const current = () => this.#signal === signal && this.#mediaRun === run;
    /** Each step only while this start is still the current one (a stale one must not ask the server anything). */
    const check = () => {
      if (!current()) throw new Superseded();
    };
    const ask = async <K extends RequestName>(name: K, payload: RequestPayload<K>): Promise<ResponseData<K>> => {
      check();
      const data = await signal.request(name, payload);
      check();
      return data;
    };
    /** What was made is kept only while this start is still the current one. */
    const mine = <T extends { close(): void }>(made: T): T => {
      if (current()) return made;
      made.close();
      throw new Superseded();
    };
    this.#mediaPhase = 'connecting';
    this.#update({});
    try {
      // Someone may be let in before the browser has answered the camera request.
      await this.openLocalMedia();
      const { routerRtpCapabilities } = await ask('media:join', {});
      const device = new Device();
      await device.load({ routerRtpCapabilities: wire<RtpCapabilities>(routerRtpCapabilities) });
      check();
      this.#recvTransport = mine(await this.#createTransport(signal, device, 'recv'));
      await ask('media:ready', {
        rtpCapabilities: wire<RequestPayload<'media:ready'>['rtpCapabilities']>(device.rtpCapabilities),
      });
      this.#sendTransport = mine(await this.#createTransport(signal, device, 'send'));
      await this.#produceLocalTracks(device, mine);
      check();
      // A switch turned while a producer was being made reached only this page.
      await this.#syncProducers(signal, false);
      if (!current()) return;
      this.#mediaPhase = 'ready';
      this.#update({ mediaRestarting: false });
    } catch (error) {
      if (error instanceof Superseded || !current()) return;
      if (this.#drops !== drops || !signal.seated) {
        // The connection dropped meanwhile: start again once the seat is back (or now, if it is).
        this.#dropMedia();
        this.#update({});
        this.#startMediaIfAllowed();
        return;
      }
      void signal.request('room:leave', {}).catch(() => undefined);
      this.#end('error', { message: `Audio and video could not be connected (${describe(error)}).` });
    }
  }

  async #createTransport(signal: SignalClient, device: Device, direction: 'send' | 'recv'): Promise<Transport> {
    const options = wire<TransportOptions>(await signal.request('transport:create', { direction }));
    const transport = direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      signal.request('transport:connect', { transportId: transport.id, dtlsParameters: wire(dtlsParameters) }).then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        const source = appData['source'] as MediaSource;
        const paused = appData['paused'] === true;
        signal
          .request('media:produce', { transportId: transport.id, kind, source, rtpParameters: wire(rtpParameters), paused })
          .then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    transport.on('connectionstatechange', (state) => this.#watchIce(signal, transport, state));
    return transport;
  }

  async #produceLocalTracks(device: Device, mine: <T extends { close(): void }>(made: T) => T): Promise<void> {
    const stream = this.#snapshot.localStream;
    const transport = this.#sendTransport;
    if (!stream || !transport) return;
    const tracks: [MediaSource, MediaStreamTrack | undefined, 'audio' | 'video'][] = [
      ['mic', stream.getAudioTracks()[0], 'audio'],
      ['camera', stream.getVideoTracks()[0], 'video'],
    ];
    for (const [source, track, kind] of tracks) {
      if (!track || !device.canProduce(kind)) continue;
      // Someone who muted (before being let in, or before media was set up again) stays muted: the producer starts paused.
      const paused = !track.enabled;
      // stopTracks: false, as the camera and microphone outlive the producers (media set up again keeps them).
      const producer = mine(await transport.produce({ track, stopTracks: false, appData: { source, paused } }));
      if (paused) producer.pause();
      this.#producers.set(source, producer);
    }
  }

  /**
   * Tell the server each producer's switch as it is on this page (`always`: even if it looks
   * unchanged, e.g. after a resume, when switches turned while away reached nobody).
   */
  async #syncProducers(signal: SignalClient, always: boolean): Promise<void> {
    const stream = this.#snapshot.localStream;
    for (const [source, producer] of [...this.#producers]) {
      const track = source === 'mic' ? stream?.getAudioTracks()[0] : stream?.getVideoTracks()[0];
      if (!track || producer.closed) continue;
      const paused = !track.enabled;
      if (!always && producer.paused === paused) continue;
      if (paused) producer.pause();
      else producer.resume();
      await signal.request('media:setProducerPaused', { producerId: producer.id, paused });
    }
  }

  async #consume(signal: SignalClient, event: EventPayload<'consumer:new'>): Promise<void> {
    const transport = this.#recvTransport;
    if (!transport || transport.closed || this.#signal !== signal) return;
    const { consumerId } = event;
    // Announced again (after a resume): set up already, so only ask for its media again.
    if (this.#consumers.has(consumerId)) {
      await signal.request('consumer:resume', { consumerId });
      return;
    }
    // Being set up: it asks for its media once it is.
    if (this.#pendingConsumers.has(consumerId)) return;
    this.#pendingConsumers.add(consumerId);
    const run = this.#mediaRun;
    let consumer: Consumer;
    try {
      consumer = await transport.consume({
        id: consumerId,
        producerId: event.producerId,
        kind: event.kind,
        rtpParameters: wire(event.rtpParameters),
      });
    } finally {
      this.#pendingConsumers.delete(consumerId);
    }
    if (run !== this.#mediaRun || this.#signal !== signal) {
      consumer.close();
      return;
    }
    this.#consumers.set(consumer.id, { consumer, peerId: event.peerId });
    this.#tracks.set(event.peerId, { ...this.#tracks.get(event.peerId), [event.kind]: consumer.track });
    this.#tracksChanged = true;
    this.#update({});
    await signal.request('consumer:resume', { consumerId: consumer.id });
  }

  #closeConsumer(consumerId: string): void {
    const entry = this.#consumers.get(consumerId);
    if (!entry) return;
    entry.consumer.close();
    this.#consumers.delete(consumerId);
    const tracks = this.#tracks.get(entry.peerId);
    const kind = entry.consumer.kind;
    if (tracks && tracks[kind] === entry.consumer.track) {
      const rest = { ...tracks };
      delete rest[kind];
      if (rest.audio || rest.video) this.#tracks.set(entry.peerId, rest);
      else this.#tracks.delete(entry.peerId);
      this.#tracksChanged = true;
    }
    this.#update({});
  }

  /**
   * Back in the seat with media set up: new ICE credentials for both transports (the network
   * path may have changed), then drop the consumers the server no longer has (it announces
   * again those not resumed yet). If the server no longer has the transports (it restarted),
   * media is set up again from the start.
   */
  async #repairMedia(signal: SignalClient): Promise<void> {
    if (this.#mediaPhase !== 'ready') return;
    const run = this.#mediaRun;
    try {
      for (const transport of [this.#sendTransport, this.#recvTransport]) {
        if (!transport || transport.closed) throw new Error('a transport was closed');
        await this.#restartIce(signal, transport);
      }
      const { consumerIds } = await signal.request('media:resync', {});
      if (run !== this.#mediaRun || this.#signal !== signal) return;
      const kept = new Set(consumerIds);
      for (const consumerId of [...this.#consumers.keys()]) if (!kept.has(consumerId)) this.#closeConsumer(consumerId);
      await this.#syncProducers(signal, true);
    } catch (error) {
      // Let go of meanwhile, or dropped again (the next resume repairs).
      if (run !== this.#mediaRun || this.#signal !== signal || !signal.seated) return;
      console.warn('audio and video are set up again:', describe(error));
      this.#rebuildMedia();
    }
  }

  /** New ICE credentials for a transport, from the server; one restart at a time per transport. */
  #restartIce(signal: SignalClient, transport: Transport): Promise<void> {
    const inFlight = this.#iceRestarts.get(transport.id);
    if (inFlight) return inFlight;
    const restart = (async () => {
      const { iceParameters } = await signal.request('transport:restartIce', { transportId: transport.id });
      if (!transport.closed) await transport.restartIce({ iceParameters: wire<IceParameters>(iceParameters) });
    })().finally(() => {
      if (this.#iceRestarts.get(transport.id) === restart) this.#iceRestarts.delete(transport.id);
    });
    this.#iceRestarts.set(transport.id, restart);
    return restart;
  }

  /** A transport's connection changed: `failed` is restarted at once, `disconnected` if it does not come back by itself. */
  #watchIce(signal: SignalClient, transport: Transport, state: Transport['connectionState']): void {
    clearTimeout(this.#iceTimers.get(transport.id));
    this.#iceTimers.delete(transport.id);
    if (state === 'failed') this.#restartIceLater(signal, transport, 0);
    else if (state === 'disconnected') this.#restartIceLater(signal, transport, ICE_DISCONNECTED_WAIT_MS);
  }

  #restartIceLater(signal: SignalClient, transport: Transport, delay: number): void {
    const timer = setTimeout(() => {
      this.#iceTimers.delete(transport.id);
      const state = transport.connectionState;
      if (transport.closed || this.#signal !== signal || (state !== 'failed' && state !== 'disconnected')) return;
      // Without a seat nothing can be asked; the resume restarts ICE itself.
      if (!signal.seated) return;
      this.#restartIce(signal, transport).then(
        () => this.#restartIceLater(signal, transport, ICE_RECHECK_MS),
        (error: unknown) => {
          if (transport.closed || this.#signal !== signal || !signal.seated) return;
          // The server no longer has this transport: set media up again.
          if (error instanceof ProtocolFailure && error.code === 'NOT_FOUND') return this.#rebuildMedia();
          console.warn('ICE could not be restarted:', describe(error));
          this.#restartIceLater(signal, transport, ICE_RECHECK_MS);
        },
      );
    }, delay);
    this.#iceTimers.set(transport.id, timer);
  }

  /** Let go of this page's media (not the camera and microphone) and set it up again from `media:join`. */
  #rebuildMedia(): void {
    const had = this.#mediaPhase !== 'none';
    this.#dropMedia();
    this.#update({ mediaRestarting: had || this.#snapshot.mediaRestarting });
    this.#startMediaIfAllowed();
  }

  /** Close transports, producers and consumers here; the local stream and its switches stay as they are. */
  #dropMedia(): void {
    this.#mediaRun++;
    for (const timer of this.#iceTimers.values()) clearTimeout(timer);
    this.#iceTimers.clear();
    this.#iceRestarts.clear();
    for (const { consumer } of this.#consumers.values()) consumer.close();
    this.#consumers.clear();
    this.#pendingConsumers.clear();
    this.#tracks.clear();
    this.#tracksChanged = true;
    for (const producer of this.#producers.values()) producer.close();
    this.#producers.clear();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#sendTransport = undefined;
    this.#recvTransport = undefined;
    this.#mediaPhase = 'none';
  }

  /**
   * Mute or unmute the microphone (or camera): paused on the server, not just locally. Fails
   * without that device, or when the server did not take the change.
   */
  async setEnabled(source: MediaSource, enabled: boolean): Promise<ActionResult> {
    const name = source === 'mic' ? 'microphone' : 'camera';
    const stream = this.#snapshot.localStream;
    const track = source === 'mic' ? stream?.getAudioTracks()[0] : stream?.getVideoTracks()[0];
    if (!track) return { ok: false, message: `There is no ${name} to turn ${enabled ? 'on' : 'off'} in this browser.` };
    track.enabled = enabled;
    this.#update(source === 'mic' ? { micOn: enabled } : { camOn: enabled });
    const producer = this.#producers.get(source);
    const signal = this.#signal;
    // Before media is connected the switch is only local: the producer starts as it is.
    if (!producer || !signal) return { ok: true, data: undefined };
    if (enabled) producer.resume();
    else producer.pause();
    // While reconnecting it holds here and reaches the server with the resume (#repairMedia).
    if (!signal.seated) return { ok: true, data: undefined };
    try {
      await signal.request('media:setProducerPaused', { producerId: producer.id, paused: !enabled });
      return { ok: true, data: undefined };
    } catch (error) {
      if (!signal.seated) return { ok: true, data: undefined };
      return { ok: false, message: `Your ${name} could not be turned ${enabled ? 'on' : 'off'} for the group (${describe(error)}).` };
    }
  }

  // --- Commands: one method each; they resolve with a message to show instead of throwing.

  acknowledgeAgreement(version: string): Promise<ActionResult> {
    return this.#command({ type: 'agreement.acknowledge', version, privateSpace: true });
  }

  admit(memberId: string): Promise<ActionResult> {
    return this.#command({ type: 'member.admit', memberId });
  }

  admitAll(): Promise<ActionResult> {
    return this.#command({ type: 'member.admitAll' });
  }

  setAutoAdmit(enabled: boolean): Promise<ActionResult> {
    return this.#command({ type: 'room.setAutoAdmit', enabled });
  }

  setLocked(locked: boolean): Promise<ActionResult> {
    return this.#command({ type: 'room.setLocked', locked });
  }

  removeMember(memberId: string, block: boolean): Promise<ActionResult> {
    return this.#command({ type: 'member.remove', memberId, block });
  }

  setRole(memberId: string, role: 'cofacilitator' | 'member'): Promise<ActionResult> {
    return this.#command({ type: 'member.setRole', memberId, role });
  }

  setAgreement(text: string): Promise<ActionResult> {
    return this.#command({ type: 'agreement.set', text });
  }

  endSession(): Promise<ActionResult> {
    return this.#command({ type: 'session.end' });
  }

  // Turn-taking (see floor-commands on the server for what each one may do).

  setFloorMode(mode: CommandOf<'floor.setMode'>['mode']): Promise<ActionResult> {
    return this.#command({ type: 'floor.setMode', mode });
  }

  grantFloor(memberId: string): Promise<ActionResult> {
    return this.#command({ type: 'floor.grant', memberId });
  }

  /** The holder is done, or a facilitator takes the floor back. */
  releaseFloor(): Promise<ActionResult> {
    return this.#command({ type: 'floor.release' });
  }

  raiseHand(): Promise<ActionResult> {
    return this.#command({ type: 'hand.raise' });
  }

  /** One's own hand, or (facilitators) someone else's. */
  lowerHand(memberId?: string): Promise<ActionResult> {
    return this.#command(memberId ? { type: 'hand.lower', memberId } : { type: 'hand.lower' });
  }

  /** Move someone in the queue to position `to` (past the end: last). */
  moveHand(memberId: string, to: number): Promise<ActionResult> {
    return this.#command({ type: 'hands.move', memberId, to });
  }

  clearHands(): Promise<ActionResult> {
    return this.#command({ type: 'hands.clear' });
  }

  startRound(options: Omit<CommandOf<'round.start'>, 'type'>): Promise<ActionResult> {
    return this.#command({ type: 'round.start', ...options });
  }

  /** The holder passes early; a facilitator moves the round on. */
  passTurn(): Promise<ActionResult> {
    return this.#command({ type: 'round.pass' });
  }

  endRound(): Promise<ActionResult> {
    return this.#command({ type: 'round.end' });
  }

  // Muting the server enforces: off by a facilitator, back on only by the member's consent.

  muteMember(memberId: string, source: MediaSource): Promise<ActionResult> {
    return this.#command({ type: 'member.mute', memberId, source });
  }

  /** Mute every member's microphone, or all but `except` (the speaker); the server checks they are in the room. */
  muteAll(except: string | null): Promise<ActionResult> {
    return this.#command({ type: 'member.muteAll', except });
  }

  askMember(memberId: string, source: MediaSource): Promise<ActionResult> {
    return this.#command({ type: 'member.ask', memberId, source });
  }

  /** Answer the facilitator's ask; accepting also turns that microphone or camera on here. */
  async answerAsk(source: MediaSource, accept: boolean): Promise<ActionResult> {
    const result = await this.#command({ type: 'ask.answer', source, accept });
    return result.ok && accept ? this.setEnabled(source, true) : result;
  }

  // Private signals.

  /** Tell the facilitators something privately; checked here first for a clear message. */
  async sendSignal(request: PrivateSignalInput): Promise<ActionResult> {
    const signal = this.#signal;
    if (!signal) return { ok: false, message: 'You are not connected to the session.' };
    const parsed = PrivateSignalRequest.safeParse(request);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const message = issue?.path.includes('text') ? `The message ${issue.message}.` : summariseZodError(parsed.error);
      return { ok: false, message };
    }
    try {
      await signal.request('signal:send', { signal: parsed.data });
      return { ok: true, data: undefined };
    } catch (error) {
      return { ok: false, message: describe(error) };
    }
  }

  /** Facilitators: take a private signal off the list (it was only ever in this tab). */
  dismissSignal(id: string): void {
    if (!this.#snapshot.privateSignals.some((s) => s.id === id)) return;
    this.#update({ privateSignals: this.#snapshot.privateSignals.filter((s) => s.id !== id) });
  }

  /** A fresh invite link's token (facilitators), e.g. one personal link per member. */
  async createInvite(): Promise<ActionResult<string>> {
    const signal = this.#signal;
    if (!signal) return { ok: false, message: 'You are not connected to the session.' };
    try {
      const { inviteToken } = await signal.request('invite:create', {});
      return { ok: true, data: inviteToken };
    } catch (error) {
      return { ok: false, message: describe(error) };
    }
  }

  async #command(command: Command): Promise<ActionResult> {
    const signal = this.#signal;
    if (!signal) return { ok: false, message: 'You are not connected to the session.' };
    try {
      await signal.request('room:command', { command });
      return { ok: true, data: undefined };
    } catch (error) {
      return { ok: false, message: describe(error) };
    }
  }

  // --- Leaving and cleaning up.

  /** Out of the room (or back to the entry form, `idle`): let go of the connection, the media and the seat. */
  #end(phase: 'idle' | 'left' | 'ended' | 'error', patch: Partial<RoomSnapshot> = {}): void {
    this.#dropMedia();
    clearTimeout(this.#graceTimer);
    clearTimeout(this.#drainTimer);
    this.#signal?.close();
    this.#signal = undefined;
    this.#resuming = undefined;
    this.#forgetSeat();
    this.#phase = phase;
    this.#connection = 'online';
    this.talkTime.set(undefined);
    this.#update({
      view: undefined,
      privateSignals: [],
      connection: 'online',
      reconnectCause: undefined,
      returning: false,
      mediaRestarting: false,
      ...patch,
    });
    // Out of the room, the camera and microphone are off; the entry form keeps its preview.
    if (phase !== 'idle') this.#releaseLocalMedia();
  }

  #releaseLocalMedia(): void {
    for (const track of this.#snapshot.localStream?.getTracks() ?? []) track.stop();
    this.#localMedia = undefined;
    this.#mediaGeneration++;
    this.#update({ localStream: undefined, micOn: false, camOn: false });
  }

  /** Leave the room (or the waiting room) and release the camera and microphone. */
  async leave(): Promise<void> {
    const signal = this.#signal;
    // While reconnecting the server cannot be told: the seat it keeps lapses after the grace period.
    if (signal?.seated) await signal.request('room:leave', {}).catch(() => undefined);
    this.#end('left');
  }

  /** Back to the entry form after leaving or a failure (the camera preview reopens). */
  reset(): void {
    if (this.#phase === 'entering' || this.#phase === 'in') return;
    this.#phase = 'idle';
    this.#update({ message: undefined, endReason: undefined, notice: undefined });
    void this.openLocalMedia();
  }

  /** The page is going away: let go of everything without a screen change. */
  dispose(): void {
    clearTimeout(this.#detachTimer);
    this.#detachTimer = undefined;
    const signal = this.#signal;
    if (signal?.seated) void signal.request('room:leave', {}).catch(() => undefined);
    if (this.#phase === 'entering' || this.#phase === 'in') this.#end('left');
    else this.#releaseLocalMedia();
  }
}

/** A failure to enter, in words for the person holding the link. */
function describeEntryFailure(error: unknown): string {
  if (error instanceof ProtocolFailure) {
    switch (error.code) {
      case 'NOT_FOUND':
        return 'This session does not exist or has already ended. Check the link with your facilitator.';
      case 'FORBIDDEN':
        return `${error.message}. If you think this is a mistake, contact your facilitator.`;
      case 'ROOM_FULL':
        return `${error.message}. Please contact your facilitator.`;
      case 'BAD_REQUEST':
        return `That was not accepted: ${error.message}.`;
      default:
        return error.message;
    }
  }
  return describe(error);
}
