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
  type RequestPayload,
  type RoomView,
} from '@group-room/shared';
import { Device } from 'mediasoup-client';
import type { Consumer, Producer, RtpCapabilities, Transport, TransportOptions } from 'mediasoup-client/types';
import { describeError as describe } from './describe-error';
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
 * - `entering`: `room:enter` is in flight.
 * - `agreement`: a member reading the group agreement before the waiting room.
 * - `waiting`: a member who accepted the agreement, waiting to be let in (no names, no media).
 * - `connecting`: admitted; camera, microphone and transports are being set up.
 * - `joined`: in the room with media.
 * - `reacknowledge`: admitted, but the agreement changed; media is paused by the server
 *   until this person accepts the new text.
 * - `left`: this person left.
 * - `ended`: the server ended their membership (see `endReason`).
 * - `error`: could not enter, or the connection or the media failed (see `message`).
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

export type EndReason = EventPayload<'room:ended'>['reason'];

/** The latest speaking times (facilitators only), as the server last reported them. */
export type TalkTimeReport = EventPayload<'talk:time'>;

/** What a member can send the facilitators privately (before normalisation). */
export type PrivateSignalInput = RequestPayload<'signal:send'>['signal'];

/** Private signals kept in this tab's memory (newest first), never stored anywhere. */
export const PRIVATE_SIGNALS_KEPT = 50;

export interface RoomSnapshot {
  status: RoomStatus;
  /** This person's projection of the room, once entered. */
  view?: RoomView;
  endReason?: EndReason;
  /** Why entering failed or the connection ended; shown to the person. */
  message?: string;
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

export const initialSnapshot: RoomSnapshot = { status: 'idle', micOn: false, camOn: false, peers: [], privateSignals: [] };

/**
 * One person's connection to a room: signalling, the room view the server pushes, and
 * (once the server allows media) the mediasoup-client Device, a send and a receive
 * transport, local producers and remote consumers. The UI reads immutable snapshots and
 * calls one method per command.
 */
export class RoomClient {
  #snapshot: RoomSnapshot = initialSnapshot;
  readonly #listeners = new Set<() => void>();
  /** Facilitators: each member's speaking time so far, about once a second (see useTalkTime). */
  readonly talkTime = new ValueStore<TalkTimeReport | undefined>(undefined);
  #phase: Phase = 'idle';
  #mediaPhase: MediaPhase = 'none';
  #signal: SignalClient | undefined;
  #sendTransport: Transport | undefined;
  #recvTransport: Transport | undefined;
  readonly #producers = new Map<MediaSource, Producer>();
  readonly #consumers = new Map<string, { consumer: Consumer; peerId: string }>();
  /** Received tracks by member id; kept apart from the view so their order never matters. */
  readonly #tracks = new Map<string, { audio?: MediaStreamTrack; video?: MediaStreamTrack }>();
  /** Set when #tracks changed since `peers` was last built. */
  #tracksChanged = false;
  #localMedia: Promise<void> | undefined;
  /** Bumped when the camera is released, so a late getUserMedia answer is let go at once. */
  #mediaGeneration = 0;
  /** The server's clock minus this one, as of the last view (late by the view's trip, a few ms). */
  #clockOffset = 0;

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

  /** Enter with a link's token; the server decides the role and where this person starts. */
  async enter(roomId: string, token: string, displayName: string): Promise<void> {
    if (this.#phase === 'entering' || this.#phase === 'in') return;
    this.#phase = 'entering';
    this.#mediaPhase = 'none';
    this.#tracks.clear();
    this.#tracksChanged = true;
    this.talkTime.set(undefined);
    this.#update({ view: undefined, endReason: undefined, message: undefined, privateSignals: [] });
    const signal = new SignalClient();
    this.#signal = signal;
    this.#listen(signal);
    try {
      const { view } = await signal.request('room:enter', { roomId, token, displayName });
      if (this.#signal !== signal) return;
      this.#phase = 'in';
      this.#setView(this.#snapshot.view ?? view);
    } catch (error) {
      if (this.#signal !== signal) return;
      this.#end('error', { message: describeEntryFailure(error) });
    }
  }

  #listen(signal: SignalClient): void {
    signal.on('room:view', ({ view, serverNow }) => {
      if (this.#signal !== signal) return;
      // The latest reading wins: a clock that jumps is followed at the next view.
      this.#clockOffset = serverNow - Date.now();
      this.#setView(view);
    });
    signal.on('consumer:new', (event) => {
      this.#consume(signal, event).catch((error: unknown) => console.warn("could not receive a member's media:", describe(error)));
    });
    signal.on('consumer:closed', ({ consumerId }) => this.#closeConsumer(consumerId));
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
    signal.socket.on('disconnect', (reason) => {
      if (this.#signal !== signal || reason === 'io client disconnect') return;
      this.#end('error', { message: 'The connection to the session was lost.' });
    });
  }

  #setView(view: RoomView): void {
    // What is for facilitators only goes with the role (e.g. a co-facilitator made a member again).
    const facilitatorOnly = view.facilitation ? {} : { privateSignals: [] };
    if (!view.facilitation) this.talkTime.set(undefined);
    this.#update({ view, ...facilitatorOnly });
    if (view.self.media && this.#mediaPhase === 'none' && this.#signal) {
      // Once per entry: after a re-acknowledgement the server resumes paused media itself.
      void this.#startMedia(this.#signal);
    }
  }

  async #startMedia(signal: SignalClient): Promise<void> {
    this.#mediaPhase = 'connecting';
    this.#update({});
    try {
      // Someone may be let in before the browser has answered the camera request.
      await this.openLocalMedia();
      if (this.#signal !== signal) return;
      const { routerRtpCapabilities } = await signal.request('media:join', {});
      const device = new Device();
      await device.load({ routerRtpCapabilities: wire<RtpCapabilities>(routerRtpCapabilities) });
      this.#recvTransport = await this.#createTransport(signal, device, 'recv');
      await signal.request('media:ready', {
        rtpCapabilities: wire<RequestPayload<'media:ready'>['rtpCapabilities']>(device.rtpCapabilities),
      });
      this.#sendTransport = await this.#createTransport(signal, device, 'send');
      await this.#produceLocalTracks(device);
      if (this.#signal !== signal) return;
      this.#mediaPhase = 'ready';
      this.#update({});
    } catch (error) {
      if (this.#signal !== signal) return;
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
    return transport;
  }

  async #produceLocalTracks(device: Device): Promise<void> {
    const stream = this.#snapshot.localStream;
    const transport = this.#sendTransport;
    if (!stream || !transport) return;
    const tracks: [MediaSource, MediaStreamTrack | undefined, 'audio' | 'video'][] = [
      ['mic', stream.getAudioTracks()[0], 'audio'],
      ['camera', stream.getVideoTracks()[0], 'video'],
    ];
    for (const [source, track, kind] of tracks) {
      if (!track || !device.canProduce(kind)) continue;
      // Someone who muted before being let in stays muted: the producer starts paused.
      const paused = !track.enabled;
      const producer = await transport.produce({ track, appData: { source, paused } });
      if (paused) producer.pause();
      this.#producers.set(source, producer);
    }
  }

  async #consume(signal: SignalClient, event: EventPayload<'consumer:new'>): Promise<void> {
    const transport = this.#recvTransport;
    if (!transport || this.#signal !== signal) return;
    const consumer = await transport.consume({
      id: event.consumerId,
      producerId: event.producerId,
      kind: event.kind,
      rtpParameters: wire(event.rtpParameters),
    });
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
    // Before media is connected the switch is only local: the producer starts as it is.
    if (!producer || !this.#signal) return { ok: true, data: undefined };
    if (enabled) producer.resume();
    else producer.pause();
    try {
      await this.#signal.request('media:setProducerPaused', { producerId: producer.id, paused: !enabled });
      return { ok: true, data: undefined };
    } catch (error) {
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

  #end(phase: 'left' | 'ended' | 'error', patch: Partial<RoomSnapshot> = {}): void {
    for (const { consumer } of this.#consumers.values()) consumer.close();
    this.#consumers.clear();
    this.#tracks.clear();
    this.#tracksChanged = true;
    for (const producer of this.#producers.values()) producer.close();
    this.#producers.clear();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#sendTransport = undefined;
    this.#recvTransport = undefined;
    this.#signal?.close();
    this.#signal = undefined;
    this.#phase = phase;
    this.#mediaPhase = 'none';
    this.talkTime.set(undefined);
    this.#update({ view: undefined, privateSignals: [], ...patch });
    // Out of the room, the camera and microphone are off.
    this.#releaseLocalMedia();
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
    if (signal) await signal.request('room:leave', {}).catch(() => undefined);
    this.#end('left');
  }

  /** Back to the entry form after leaving or a failure (the camera preview reopens). */
  reset(): void {
    if (this.#phase === 'entering' || this.#phase === 'in') return;
    this.#phase = 'idle';
    this.#update({ message: undefined, endReason: undefined });
    void this.openLocalMedia();
  }

  /** The page is going away: let go of everything without a screen change. */
  dispose(): void {
    const signal = this.#signal;
    if (signal) void signal.request('room:leave', {}).catch(() => undefined);
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
