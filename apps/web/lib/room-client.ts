import { ProtocolFailure, type Command, type RoomView } from '@group-room/shared';
import type { RecordCredential } from './ack-record';
import { attempt, done, type ActionResult } from './action-result';
import { CheckoutTools } from './checkout-client';
import { describeError as describe } from './describe-error';
import { keptLinkSecret } from './e2ee/link-secrets';
import { encryptionCode, loadEncryptionCode } from './e2ee/encryption-code';
import type { RoomEncryption } from './e2ee/room-encryption';
import { describeEntryFailure } from './entry-failure';
import { FacilitatorTools } from './facilitator-tools';
import { markJoin } from './join-timeline';
import { LocalDevices } from './local-devices';
import { forgetOwnerKey, keptOwnerKey } from './owner-key';
import type { PrivateSignalInput } from './private-signal';
import { listenToRoomEvents } from './room-events';
import { RoomMedia } from './room-media';
import { saveFile } from './save-file';
import { initialSnapshot, remotePeers, roomStatus, type Phase, type RoomSnapshot } from './room-snapshot';
import { ScreenShare } from './screen-share';
import { SeatKeeper } from './seat-keeper';
import { SignalClient } from './signal-client';
import { forgetWayIn, keepWayIn, keptWayIn, type WayIn } from './way-in';

export { initialSnapshot, type ConnectionStatus, type EndReason, type ReconnectCause, type RemotePeer, type RoomSnapshot, type RoomStatus } from './room-snapshot';

const LOST_SEAT = 'Your earlier place in this session was not kept. You can enter again.';
const NOT_RESTORED = 'The connection to the session could not be restored. Check your internet connection, then try again.';
/** An entry this node could not serve just then is tried again on a new connection, this many times in all. */
const ENTER_ATTEMPTS = 3;
const ENTER_RETRY_MS = 400;
/** A member's private signal to the facilitators: only ever sent from the room, so not in the page's first screen. */
const loadPrivateSignal = () => import('./private-signal');
const STILL_ELSEWHERE = 'The session is still open in another tab. Close that tab first, or carry on there.';

/**
 * One person's connection to a room: where they are (entering, waiting, in the room, out of
 * it), and the snapshot the UI reads, built from the room view the server pushes and from its
 * parts: the page's media (RoomMedia, started once the server allows it), this person's own
 * devices (`devices`), the facilitator's tools (`facilitation`) and the seat (SeatKeeper).
 * Every change to the room is one `command`.
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
  readonly #roomId: string;
  #phase: Phase = 'idle';
  #signal: SignalClient | undefined;
  readonly #seats: SeatKeeper;
  readonly #media: RoomMedia;
  readonly devices: LocalDevices;
  readonly facilitation: FacilitatorTools;
  /** The check-out: a member's sealed answer, a facilitator's opened answers (kept in this tab). */
  readonly checkout: CheckoutTools;
  /** This person's screen share. */
  readonly share: ScreenShare;
  /** The received tracks `peers` was last built from (RoomMedia replaces them when they change). */
  #peersTracks: RoomMedia['tracks'];
  #detachTimer: ReturnType<typeof setTimeout> | undefined;
  /** Counts views received, so an answer's older view does not replace a newer pushed one. */
  #viewCount = 0;
  /** The server's clock minus this one, as of the last view (late by the view's trip, a few ms). */
  #clockOffset = 0;
  /**
   * The link's token and the name this page entered with: to enter again after the way in was
   * cleared, or after a seat at the entry agreement went with its connection (see way-in.ts).
   */
  #wayIn: WayIn | undefined;
  /** Whether the way back in is kept in the tab's storage now (only while at the entry agreement). */
  #wayInKept = false;
  /** End-to-end encryption (frame transforms and key handshake), made on first use; one per entry. */
  #encryption: RoomEncryption | undefined;
  /**
   * What came for the encryption while its code was still loading (see encryption-code.ts),
   * done in order once it is here: the key handshake's messages, private signals to open.
   */
  #forEncryption: Array<(encryption: RoomEncryption) => void> = [];
  /** Whether this client waits for the encryption's code already. */
  #awaitingEncryption = false;
  /** What may take the ended session's acknowledgement record (see `ackRecord`): the owner key or the facilitator link. */
  #recordCredential: RecordCredential | null = null;

  constructor(roomId: string) {
    markJoin('script');
    this.#roomId = roomId;
    this.#wayIn = keptWayIn(roomId) ?? undefined;
    this.#wayInKept = this.#wayIn !== undefined;
    const isCurrent = (signal: SignalClient) => this.#signal === signal;
    this.#media = new RoomMedia({
      isCurrent,
      openLocalMedia: () => this.devices.open(),
      localStream: () => this.#snapshot.localStream,
      changed: () => this.#update({}),
      ready: () => {
        this.#update({ mediaRestarting: false });
        this.devices.mediaReady();
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
      // Media starts once the encryption's code is here (see #startMediaIfAllowed).
      frames: () => this.#cryptoNow().frames,
    });
    this.#peersTracks = this.#media.tracks;
    const parts = {
      signal: () => this.#signal,
      snapshot: () => this.#snapshot,
      update: (patch: Partial<RoomSnapshot>) => this.#update(patch),
    };
    this.devices = new LocalDevices({ ...parts, media: this.#media });
    this.facilitation = new FacilitatorTools(parts);
    this.checkout = new CheckoutTools({
      roomId,
      signal: () => this.#signal,
      view: () => this.#snapshot.view,
      seal: (text) => this.#cryptoReady().then((encryption) => encryption.sealMessage(text)),
      open: (from, sealed) => this.#encryption?.openSealed(from, sealed) ?? Promise.resolve(null),
    });
    this.share = new ScreenShare({ ...parts, media: this.#media });
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

  /**
   * This entry's encryption, or undefined while its code is still loading; throws when the
   * browser cannot encrypt or the tab lacks the link's secret.
   */
  #crypto(): RoomEncryption | undefined {
    const code = encryptionCode();
    if (!code) return undefined;
    this.#encryption ??= code.RoomEncryption.create({
      roomId: this.#roomId,
      relay: async (to, data) => {
        const signal = this.#signal;
        if (!signal?.seated) throw new Error('not connected');
        await signal.request('e2ee:relay', { to, data });
      },
      keysReady: () => void this.#signal?.request('media:keysReady', {}).catch(() => undefined),
      changed: () => this.#update({}),
    });
    return this.#encryption;
  }

  /** This entry's encryption where its code must have arrived already. */
  #cryptoNow(): RoomEncryption {
    const encryption = this.#crypto();
    if (!encryption) throw new Error('the encryption code has not arrived yet');
    return encryption;
  }

  /** This entry's encryption, once its code has arrived. */
  async #cryptoReady(): Promise<RoomEncryption> {
    await loadEncryptionCode();
    return this.#cryptoNow();
  }

  /** Hand `use` the encryption now, or once its code is here if this person may have media; else (as before media) drop it. */
  #withEncryption(use: (encryption: RoomEncryption) => void): void {
    const encryption = this.#encryption ?? (this.#snapshot.view?.self.media ? this.#crypto() : undefined);
    if (encryption) use(encryption);
    else if (this.#snapshot.view?.self.media) this.#forEncryption.push(use);
  }

  /** Start loading the encryption's code; once here, what waited for it is done (the view's key handshake, messages, media). */
  #loadEncryption(): void {
    if (encryptionCode() || this.#awaitingEncryption) return;
    this.#awaitingEncryption = true;
    // With it, the private signal's code, for the room (sendSignal).
    loadPrivateSignal().catch(() => undefined);
    loadEncryptionCode().then(
      () => {
        this.#awaitingEncryption = false;
        const view = this.#snapshot.view;
        if (this.#phase !== 'in' || !view?.self.media) return;
        try {
          const encryption = this.#cryptoNow();
          encryption.view(view);
          for (const use of this.#forEncryption.splice(0)) use(encryption);
        } catch (error) {
          this.#encryptionFailed(error);
          return;
        }
        this.#startMediaIfAllowed();
      },
      (error: unknown) => {
        this.#awaitingEncryption = false;
        if (this.#phase === 'in' && this.#snapshot.view?.self.media) this.#encryptionFailed(error);
      },
    );
  }

  #encryptionFailed(error: unknown): void {
    void this.#signal?.request('room:leave', {}).catch(() => undefined);
    this.#end('error', { message: `Audio and video could not be connected (${describe(error)}).` });
  }

  #update(patch: Partial<RoomSnapshot>): void {
    const next = { ...this.#snapshot, ...patch };
    const encryption = this.#encryption;
    if (encryption) {
      next.encryption = { keys: encryption.status, sending: encryption.sending, peers: encryption.peerStates(this.#media.consumerPeers()) };
    }
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

  // --- The page's lifetime.

  /** The room page shows this client: open the camera preview, and take back a seat this tab kept (a reload). */
  attach(): void {
    clearTimeout(this.#detachTimer);
    this.#detachTimer = undefined;
    void this.devices.open();
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
    // On the way in: the encryption's code comes while the server answers.
    this.#loadEncryption();
    this.facilitation.enteredWith(token);
    this.#wayIn = { token, displayName };
    this.#media.drop();
    this.#update({ view: undefined, endReason: undefined, message: undefined, notice: undefined, ...this.facilitation.forget() });
    // The owner key this browser kept when it created the session goes with its facilitator link only.
    const ownerKey = keptLinkSecret(this.#roomId)?.kind === 'room' ? keptOwnerKey(this.#roomId) : null;
    for (let tries = 1; ; tries++) {
      const signal = this.#connect();
      const seen = this.#viewCount;
      try {
        const { view, resume } = await signal.request('room:enter', { roomId: this.#roomId, token, displayName, ...(ownerKey ? { ownerKey } : {}) });
        if (this.#signal !== signal) return;
        markJoin('entered');
        this.#seats.keep(resume);
        signal.seat();
        this.#phase = 'in';
        // A view pushed before the answer is the newer one. (Entering again after a reload: back now.)
        this.#setView(this.#viewCount === seen ? view : (this.#snapshot.view ?? view), { returning: false });
        return;
      } catch (error) {
        if (this.#signal !== signal) return;
        // This node could not serve the room just now (another node took it a moment ago, or the
        // store blipped): the server closes the connection; a new one is handed to the room's
        // home by its handshake, so the person need not press Enter again.
        if (error instanceof ProtocolFailure && error.code === 'UNAVAILABLE' && tries < ENTER_ATTEMPTS) {
          signal.close();
          await new Promise((resolve) => setTimeout(resolve, ENTER_RETRY_MS * tries));
          if (this.#signal !== signal || this.#phase !== 'entering') return;
          continue;
        }
        this.#end('error', { message: describeEntryFailure(error) });
        return;
      }
    }
  }

  /**
   * After a reload: take this tab's seat back before anything else is shown, unless another
   * tab holds it (this tab is a copy of it: see SeatKeeper.takeBack).
   */
  #returnToSeat(): void {
    if (!this.#seats.held) return;
    this.#loadEncryption();
    void this.#takeBack();
  }

  /** `again`: the person asked to carry on here, and the other tab still holds the seat. */
  async #takeBack(again = false): Promise<void> {
    const taking = await this.#seats.takeBack(() => this.#connect());
    // Left meanwhile (the page went away): nothing more to show.
    if (taking || this.#phase !== 'entering') return;
    this.#phase = 'elsewhere';
    this.devices.release();
    this.#update({ connection: 'online', returning: false, notice: again ? STILL_ELSEWHERE : undefined });
  }

  /** Another tab held this tab's seat: carry on here (if that tab has been closed meanwhile). */
  continueHere(): void {
    if (this.#phase !== 'elsewhere') return;
    this.#phase = 'entering';
    this.#update({ connection: 'reconnecting', returning: true, notice: undefined });
    void this.devices.open();
    void this.#takeBack(true);
  }

  #connect(): SignalClient {
    const signal = new SignalClient({ seatGate: true, room: this.#roomId });
    this.#signal = signal;
    signal.socket.once('connect', () => markJoin('socket'));
    listenToRoomEvents(signal, {
      isCurrent: (s) => this.#signal === s,
      currentView: () => this.#snapshot.view,
      viewPushed: (view, serverNow) => {
        // The latest reading wins: a clock that jumps is followed at the next view.
        this.#clockOffset = serverNow - Date.now();
        this.#viewCount++;
        this.#setView(view);
      },
      ended: (endReason) => this.#end('ended', { endReason }),
      draining: (s) => {
        if (this.#phase === 'in') this.#seats.draining(s);
      },
      mediaReset: () => {
        // Whatever this page had of the server's lost media is dead too.
        if (this.#phase === 'in') this.#rebuildMedia();
      },
      media: this.#media,
      facilitation: this.facilitation,
      relayed: (from, data) => this.#withEncryption((encryption) => encryption.receive(from, data)),
      privateSignal: (received) => {
        this.#withEncryption((encryption) => void encryption.open(received).then((shown) => this.facilitation.received(shown)));
      },
      checkoutAnswer: (delivery) => void this.checkout.received(delivery),
    });
    this.#seats.watch(signal);
    return signal;
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
    this.#encryption?.resumed();
  }

  /** The resume was refused: the seat, or the whole session, is gone. */
  #seatGone(outcome: 'seat-lost' | 'session-gone'): void {
    if (outcome === 'session-gone') return this.#end('ended', { endReason: 'session-gone' });
    // A seat at the entry agreement goes with its connection (a reload, a drop): enter again
    // with the link, so the person simply sees the agreement again.
    const again = this.#wayInKept ? this.#wayIn : undefined;
    if (again) {
      this.#end('idle', { returning: true });
      void this.enter(again.token, again.displayName);
      return;
    }
    // After a reload, straight to the entry form (camera preview kept), saying why.
    if (this.#snapshot.returning) return this.#end('idle', { notice: LOST_SEAT });
    this.#end('ended', { endReason: 'seat-lost' });
  }

  /** `also`: more of the snapshot to change in the same update (one render, one status). */
  #setView(view: RoomView, also: Partial<RoomSnapshot> = {}): void {
    // What is for facilitators only goes with the role (e.g. a co-facilitator made a member again).
    const facilitatorOnly = view.facilitation ? {} : this.facilitation.forget();
    // The agreement acknowledged: the first view past it (it may come before the command's answer).
    if (this.#snapshot.view?.self.stage === 'agreement' && view.self.stage !== 'agreement') markJoin('agreed');
    if (view.self.stage === 'admitted') markJoin('admitted');
    this.#update({ ...also, view, ...facilitatorOnly });
    this.checkout.view(view);
    this.share.viewChanged(view);
    this.#keepWayIn(view.self.role === 'member' && view.self.stage === 'agreement');
    // The key handshake starts once the server lets this person have media (admitted, agreement accepted).
    // (Its code may still be loading: then the latest view is taken once it is here, see #loadEncryption.)
    if (view.self.media) this.#crypto()?.view(view);
    this.#startMediaIfAllowed();
  }

  /** Keep the way back in in the tab's storage while at the entry agreement, and only then. */
  #keepWayIn(atAgreement: boolean): void {
    const keep = atAgreement && this.#wayIn !== undefined;
    if (keep === this.#wayInKept) return;
    this.#wayInKept = keep;
    if (keep && this.#wayIn) keepWayIn(this.#roomId, this.#wayIn);
    else forgetWayIn(this.#roomId);
  }

  // --- Media (RoomMedia): started once the server allows it, and started again when it was lost.

  #startMediaIfAllowed(): void {
    const signal = this.#signal;
    if (!signal?.seated || this.#phase !== 'in' || this.#media.phase !== 'none' || !this.#snapshot.view?.self.media) return;
    // Every sender and receiver gets a frame transform: media waits for the encryption's code (asked for on the way in).
    if (!encryptionCode()) return this.#loadEncryption();
    void this.#media.start(signal);
  }

  /** Let go of this page's media (not the camera and microphone) and set it up again from `media:join`. */
  #rebuildMedia(): void {
    const had = this.#media.phase !== 'none';
    this.#media.drop();
    this.#update({ mediaRestarting: had || this.#snapshot.mediaRestarting });
    this.#startMediaIfAllowed();
  }

  // --- What this person asks of the room: resolved with a message to show instead of throwing.

  /**
   * Change the room (who may send which is the server's table). Accepting a facilitator's ask
   * also turns that microphone or camera on here: the member said yes to being heard or seen.
   */
  async command(command: Command): Promise<ActionResult> {
    const result = await attempt(this.#signal, async (signal) => {
      await signal.request('room:command', { command });
      return undefined;
    });
    if (result.ok && command.type === 'ask.answer' && command.accept) return this.devices.setEnabled(command.source, true);
    return result;
  }

  /** Tell the facilitators something privately; a message's text is sealed for their browsers here. */
  async sendSignal(request: PrivateSignalInput): Promise<ActionResult> {
    // In a chunk of its own, not in the page's first screen (asked for on the way in: #loadEncryption).
    const { sendPrivateSignal } = await loadPrivateSignal();
    return sendPrivateSignal(this.#signal, request, (text) => this.#cryptoReady().then((encryption) => encryption.sealMessage(text)));
  }

  // --- Leaving and cleaning up.

  /** Out of the room (or back to the entry form, `idle`): let go of the connection, the media and the seat. */
  #end(phase: 'idle' | 'left' | 'ended' | 'error', patch: Partial<RoomSnapshot> = {}): void {
    // The session ended for its facilitator: the acknowledgement record is theirs to take, once
    // (with the owner key, which outlives a reload, or else the link this page entered with).
    const ownerKey = keptOwnerKey(this.#roomId);
    const linkToken = this.facilitation.linkToken;
    const facilitating = phase === 'ended' && patch.endReason === 'session-ended' && this.#snapshot.view?.self.role === 'facilitator';
    this.#recordCredential = !facilitating ? null : ownerKey ? { ownerKey } : linkToken ? { token: linkToken } : null;
    // The session is over: this browser's owner key of it is of no more use.
    if (patch.endReason === 'session-ended' || patch.endReason === 'session-gone') forgetOwnerKey(this.#roomId);
    // Out of the session, or failed: the check-out answers leave this tab's storage; a facilitator
    // may save them once from the end screen (memory only). A reload, through dispose, keeps them.
    if (phase === 'ended' || phase === 'error') this.checkout.sessionOver(true);
    this.share.release();
    this.#media.drop();
    this.#encryption?.close();
    this.#encryption = undefined;
    this.#forEncryption = [];
    this.#seats.release();
    this.#keepWayIn(false);
    this.#signal?.close();
    this.#signal = undefined;
    this.#phase = phase;
    this.#update({
      view: undefined,
      ...this.facilitation.forget(),
      connection: 'online',
      reconnectCause: undefined,
      returning: false,
      mediaRestarting: false,
      encryption: initialSnapshot.encryption,
      ackRecord: this.#recordCredential ? 'offered' : undefined,
      ...patch,
    });
    // Out of the room, the camera and microphone are off; the entry form keeps its preview.
    if (phase !== 'idle') this.devices.release();
  }

  /** Leave the room (or the waiting room) and release the camera and microphone. */
  async leave(): Promise<void> {
    const signal = this.#signal;
    // While reconnecting the server cannot be told: the seat it keeps lapses after the grace period.
    if (signal?.seated) await signal.request('room:leave', {}).catch(() => undefined);
    this.checkout.sessionOver(true);
    this.#end('left');
  }

  /**
   * The facilitator saves the ended session's acknowledgement record as a CSV file. The server
   * hands it out once and deletes it: after that (or once it expired) it is `gone`.
   */
  async downloadAcknowledgements(): Promise<ActionResult> {
    const credential = this.#recordCredential;
    if (!credential || this.#snapshot.ackRecord !== 'offered') return { ok: false, message: 'The acknowledgement record is no longer available here.' };
    try {
      // Its code is the facilitator's, at the end only: not in the page's first screen.
      const { ackCsvName, acknowledgementCsv, takeAckRecord } = await import('./ack-record');
      const entries = await takeAckRecord(this.#roomId, credential);
      saveFile(ackCsvName(), acknowledgementCsv(entries));
      this.#recordCredential = null;
      this.#update({ ackRecord: 'downloaded' });
      return done;
    } catch (error) {
      if (error instanceof ProtocolFailure && (error.code === 'NOT_FOUND' || error.code === 'FORBIDDEN')) {
        this.#recordCredential = null;
        this.#update({ ackRecord: 'gone' });
      }
      return { ok: false, message: describe(error) };
    }
  }

  /** Back to the entry form after leaving or a failure (the camera preview reopens). */
  reset(): void {
    if (this.#phase === 'entering' || this.#phase === 'in') return;
    // Off the end screen: answers not saved there are gone.
    this.checkout.forget();
    this.#phase = 'idle';
    this.#update({ message: undefined, endReason: undefined, notice: undefined });
    void this.devices.open();
  }

  /**
   * Enter again with the link this page entered with (after the way in was cleared), straight
   * to the agreement; back to the entry form when this page has none.
   */
  enterAgain(): void {
    const again = this.#wayIn;
    if (!again) return this.reset();
    this.checkout.forget();
    void this.enter(again.token, again.displayName);
  }

  /** The page is going away: let go of everything without a screen change. */
  dispose(): void {
    clearTimeout(this.#detachTimer);
    this.#detachTimer = undefined;
    this.#seats.close();
    const signal = this.#signal;
    if (signal?.seated) void signal.request('room:leave', {}).catch(() => undefined);
    if (this.#phase === 'entering' || this.#phase === 'in') this.#end('left');
    else {
      // Off the end screen: answers not saved there are gone.
      this.checkout.forget();
      this.devices.release();
    }
  }
}
