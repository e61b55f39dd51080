import {
  PrivateSignalRequest,
  ProtocolFailure,
  summariseZodError,
  type Command,
  type CommandOf,
  type EventPayload,
  type MediaSource,
  type RequestPayload,
  type RoomView,
} from '@group-room/shared';
import { describeError as describe } from './describe-error';
import { openCameraAndMicrophone } from './local-media';
import { RoomMedia, type VideoPreference } from './room-media';
import { initialSnapshot, remotePeers, roomStatus, type Phase, type RoomSnapshot } from './room-snapshot';
import { SeatKeeper } from './seat-keeper';
import { SignalClient } from './signal-client';
import { ValueStore } from './value-store';

export {
  initialSnapshot,
  type ConnectionStatus,
  type EndReason,
  type ReconnectCause,
  type RemotePeer,
  type RoomSnapshot,
  type RoomStatus,
} from './room-snapshot';
export { ValueStore } from './value-store';
export type { VideoPreference } from './room-media';

/** The latest speaking times (facilitators only), as the server last reported them. */
export type TalkTimeReport = EventPayload<'talk:time'>;

/** What a member can send the facilitators privately (before normalisation). */
export type PrivateSignalInput = RequestPayload<'signal:send'>['signal'];

/** Private signals kept in this tab's memory (newest first), never stored anywhere. */
export const PRIVATE_SIGNALS_KEPT = 50;

export type ActionResult<T = undefined> = { ok: true; data: T } | { ok: false; message: string };

const LOST_SEAT = 'Your earlier place in this session was not kept. You can enter again.';
const NOT_RESTORED = 'The connection to the session could not be restored. Check your internet connection, then try again.';

/**
 * One person's connection to a room: signalling, the room view the server pushes, and
 * (once the server allows media) the page's media (RoomMedia: the mediasoup-client Device, a
 * send and a receive transport, local producers and remote consumers). The UI reads immutable
 * snapshots and calls one method per command.
 *
 * A seat outlives its connection (SeatKeeper). When the connection drops, the screen stays and
 * `connection` is `reconnecting` until the seat is taken back on a new connection or the grace
 * period is over. Back in, the transports' ICE is restarted and the consumers resynchronised,
 * or, when the server no longer has them, media is set up again from `media:join` (as it is
 * after `media:reset`). A reload takes the seat back the same way.
 */
export class RoomClient {
  #snapshot: RoomSnapshot = initialSnapshot;
  readonly #listeners = new Set<() => void>();
  /** Facilitators: each member's speaking time so far, about once a second (see useTalkTime). */
  readonly talkTime = new ValueStore<TalkTimeReport | undefined>(undefined);
  readonly #roomId: string;
  #phase: Phase = 'idle';
  #signal: SignalClient | undefined;
  readonly #seats: SeatKeeper;
  readonly #media: RoomMedia;
  /** The received tracks `peers` was last built from (RoomMedia replaces them when they change). */
  #peersTracks: RoomMedia['tracks'];
  #detachTimer: ReturnType<typeof setTimeout> | undefined;
  /** Counts views received, so an answer's older view does not replace a newer pushed one. */
  #viewCount = 0;
  #localMedia: Promise<void> | undefined;
  /** Bumped when the camera is released, so a late getUserMedia answer is let go at once. */
  #mediaGeneration = 0;
  /** The server's clock minus this one, as of the last view (late by the view's trip, a few ms). */
  #clockOffset = 0;

  constructor(roomId: string) {
    this.#roomId = roomId;
    const isCurrent = (signal: SignalClient) => this.#signal === signal;
    this.#media = new RoomMedia({
      isCurrent,
      openLocalMedia: () => this.openLocalMedia(),
      localStream: () => this.#snapshot.localStream,
      changed: () => this.#update({}),
      ready: () => {
        this.#update({ mediaRestarting: false });
        // Media set up afresh (after a reload, a resume or a lost router) starts with video on the server.
        if (!this.#snapshot.receiveVideo) void this.#sendReceiveVideo(false);
      },
      failed: (error) => {
        void this.#signal?.request('room:leave', {}).catch(() => undefined);
        this.#end('error', { message: `Audio and video could not be connected (${describe(error)}).` });
      },
      interrupted: () => {
        // The connection dropped meanwhile: start again once the seat is back (or now, if it is).
        this.#media.drop();
        this.#update({});
        this.#startMediaIfAllowed();
      },
      lost: () => this.#rebuildMedia(),
    });
    this.#peersTracks = this.#media.tracks;
    this.#seats = new SeatKeeper(roomId, {
      isCurrent,
      holdsSeat: () => this.#phase === 'in' || this.#snapshot.returning,
      viewsSeen: () => this.#viewCount,
      reconnecting: (cause, first) => {
        if (first) {
          this.#media.connectionLost();
          this.#update({ connection: 'reconnecting', reconnectCause: cause });
          return;
        }
        // Already reconnecting: only that the server is restarting changes the words.
        if (cause === 'server-restart' && this.#snapshot.reconnectCause !== cause) this.#update({ reconnectCause: cause });
      },
      resumed: (signal, view) => this.#resumed(signal, view),
      refused: (outcome) => this.#seatGone(outcome),
      notRestored: () => this.#end('error', { message: NOT_RESTORED }),
    });
    if (this.#seats.held) {
      // A reload: the seat is taken back (see attach) instead of showing the entry form.
      this.#phase = 'entering';
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
    next.status = roomStatus(this.#phase, next.view, this.#media.phase === 'ready');
    // Kept as they were unless the view or the received tracks changed, so tiles do not re-render for nothing.
    const tracks = this.#media.tracks;
    if ('view' in patch || tracks !== this.#peersTracks) {
      next.peers = remotePeers(next.view, tracks);
      this.#peersTracks = tracks;
    }
    this.#snapshot = next;
    for (const listener of this.#listeners) listener();
  }

  /** Ask for camera and microphone once, falling back to whatever the browser allows. */
  openLocalMedia(): Promise<void> {
    this.#localMedia ??= this.#requestLocalMedia();
    return this.#localMedia;
  }

  async #requestLocalMedia(): Promise<void> {
    const generation = this.#mediaGeneration;
    const { stream, warning } = await openCameraAndMicrophone();
    if (!stream) return this.#update({ deviceWarning: warning });
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

  #linkToken: string | null = null;

  /**
   * The token this tab entered with, kept only in memory (the page drops it from the address
   * bar): after a reload, which resumes the seat, there is none until the facilitator makes one.
   */
  get linkToken(): string | null {
    return this.#linkToken;
  }

  /** Enter with a link's token; the server decides the role and where this person starts. */
  async enter(token: string, displayName: string): Promise<void> {
    if (this.#phase === 'entering' || this.#phase === 'in') return;
    this.#phase = 'entering';
    this.#linkToken = token;
    this.#media.drop();
    this.talkTime.set(undefined);
    this.#update({ view: undefined, endReason: undefined, message: undefined, notice: undefined, privateSignals: [] });
    const signal = this.#connect();
    const seen = this.#viewCount;
    try {
      const { view, resume } = await signal.request('room:enter', { roomId: this.#roomId, token, displayName });
      if (this.#signal !== signal) return;
      this.#seats.keep(resume);
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
    if (!this.#seats.held) return;
    this.#seats.takeBack(this.#connect());
  }

  #connect(): SignalClient {
    const signal = new SignalClient({ seatGate: true, room: this.#roomId });
    this.#signal = signal;
    this.#listen(signal);
    this.#seats.watch(signal);
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
      this.#media.consume(signal, event).catch((error: unknown) => console.warn("could not receive a member's media:", describe(error)));
    });
    signal.on('consumer:closed', ({ consumerId }) => {
      if (this.#signal === signal) this.#media.closeConsumer(consumerId);
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
      // Nobody removes someone still reading the entry agreement: the server let them go for taking too long.
      const atEntry = this.#snapshot.view?.self.stage === 'agreement' && this.#snapshot.view.self.role === 'member';
      this.#end('ended', { endReason: reason === 'removed' && atEntry ? 'agreement-timeout' : reason });
    });
    signal.on('server:draining', () => {
      if (this.#signal === signal && this.#phase === 'in') this.#seats.draining(signal);
    });
    signal.on('media:reset', () => {
      // The server's media for the room was lost: whatever this page had of it is dead too.
      if (this.#signal === signal && this.#phase === 'in') this.#rebuildMedia();
    });
  }

  /** Back in the seat: the same screen, with the server's view, and media repaired. */
  #resumed(signal: SignalClient, view: RoomView | undefined): void {
    this.#phase = 'in';
    const back: Partial<RoomSnapshot> = { connection: 'online', reconnectCause: undefined, returning: false, notice: undefined };
    // Without a view here, a newer one was pushed already; setting it again starts media if it may.
    const latest = view ?? this.#snapshot.view;
    if (latest) this.#setView(latest, back);
    else this.#update(back);
    void this.#media.repair(signal);
  }

  /** The resume was refused: the seat, or the whole session, is gone. */
  #seatGone(outcome: 'seat-lost' | 'session-gone'): void {
    if (outcome === 'session-gone') return this.#end('ended', { endReason: 'session-gone' });
    // After a reload, straight to the entry form (camera preview kept), saying why.
    if (this.#snapshot.returning) return this.#end('idle', { notice: LOST_SEAT });
    this.#end('ended', { endReason: 'seat-lost' });
  }

  /** `also`: more of the snapshot to change in the same update (one render, one status). */
  #setView(view: RoomView, also: Partial<RoomSnapshot> = {}): void {
    // What is for facilitators only goes with the role (e.g. a co-facilitator made a member again).
    const facilitatorOnly = view.facilitation ? {} : { privateSignals: [] };
    if (!view.facilitation) this.talkTime.set(undefined);
    this.#update({ ...also, view, ...facilitatorOnly });
    this.#startMediaIfAllowed();
  }

  // --- Media (RoomMedia): started once the server allows it, and started again when it was lost.

  #startMediaIfAllowed(): void {
    const signal = this.#signal;
    if (!signal?.seated || this.#phase !== 'in' || this.#media.phase !== 'none' || !this.#snapshot.view?.self.media) return;
    void this.#media.start(signal);
  }

  /** Let go of this page's media (not the camera and microphone) and set it up again from `media:join`. */
  #rebuildMedia(): void {
    const had = this.#media.phase !== 'none';
    this.#media.drop();
    this.#update({ mediaRestarting: had || this.#snapshot.mediaRestarting });
    this.#startMediaIfAllowed();
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
    const signal = this.#signal;
    if (!signal) return { ok: true, data: undefined };
    try {
      await this.#media.setPaused(signal, source, !enabled);
      return { ok: true, data: undefined };
    } catch (error) {
      // Dropped meanwhile: the switch reaches the server with the resume.
      if (!signal.seated) return { ok: true, data: undefined };
      return { ok: false, message: `Your ${name} could not be turned ${enabled ? 'on' : 'off'} for the group (${describe(error)}).` };
    }
  }

  /**
   * Audio only (for a weak connection), or video again: the server pauses or resumes every
   * video stream this page receives. Remembered for media set up again later.
   */
  async setReceiveVideo(video: boolean): Promise<ActionResult> {
    this.#update({ receiveVideo: video });
    const sent = await this.#sendReceiveVideo(video);
    if (sent) return { ok: true, data: undefined };
    this.#update({ receiveVideo: !video });
    return { ok: false, message: video ? 'Video could not be turned back on just now.' : 'Audio only could not be turned on just now.' };
  }

  /** Tell the server; true if it took it, or if there is no media yet (sent once media is ready). */
  async #sendReceiveVideo(video: boolean): Promise<boolean> {
    const signal = this.#signal;
    if (!signal || this.#media.phase !== 'ready') return true;
    try {
      await signal.request('media:receiveVideo', { video });
      return true;
    } catch {
      return !signal.seated; // dropped meanwhile: sent again when media is ready after the resume
    }
  }

  /**
   * How `peerId`'s tile shows their video on this page (null: the tile is gone): off screen
   * the server pauses it, and a small tile gets a smaller simulcast layer.
   */
  preferVideo(peerId: string, preference: VideoPreference | null): void {
    this.#media.preferVideo(this.#signal, peerId, preference).catch((error: unknown) => {
      if (this.#signal?.seated) console.warn('video size not sent:', describe(error));
    });
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

  /**
   * The facilitator replaces the facilitator link: the old one stops working at once, everyone
   * inside keeps their seat. Answers the new link's token (kept in memory, as the tab's own).
   */
  async rotateFacilitatorLink(): Promise<ActionResult<string>> {
    const signal = this.#signal;
    if (!signal) return { ok: false, message: 'You are not connected to the session.' };
    try {
      const { facilitatorToken } = await signal.request('link:rotateFacilitator', {});
      this.#linkToken = facilitatorToken;
      return { ok: true, data: facilitatorToken };
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
    this.#media.drop();
    this.#seats.release();
    this.#signal?.close();
    this.#signal = undefined;
    this.#phase = phase;
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
