import type { EventPayload, MemberSummary, RoomView } from '@group-room/shared';
import type { KeyStatus } from '@group-room/shared/e2ee';
import type { ShownSignal } from './e2ee/room-encryption';
import type { TransformStatus } from './e2ee/worker-protocol';
import type { ReceivedTracks } from './room-media';
import type { ShareState } from './screen-share';

/*
 * What the room page reads: one immutable snapshot of where this person is, and how its
 * status and the other people's tiles follow from the client's state.
 */

/** An admitted person other than oneself, with the media received from them. */
export interface RemotePeer extends MemberSummary {
  audio?: MediaStreamTrack;
  video?: MediaStreamTrack;
  /** Their shared screen, while they share one (a tile of its own). */
  screen?: MediaStreamTrack;
}

/**
 * Where this person is. The room page renders one screen per status and puts it on
 * `main[data-status]` (the browser tests wait on it):
 * - `idle`: the entry form (name, "somewhere private").
 * - `entering`: `room:enter` is in flight, or (after a reload) `room:resume` (see `returning`).
 * - `elsewhere`: after a reload, another tab of this browser holds this tab's kept seat (this
 *   tab is a copy of it): this one does not take the seat from it.
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
  | 'elsewhere'
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
/**
 * Why this page is out of the room: the server's reason, or what the page worked out itself
 * (`agreement-timeout`: let go while still at the entry agreement, which takes a while).
 */
export type EndReason = EventPayload<'room:ended'>['reason'] | 'seat-lost' | 'session-gone' | 'agreement-timeout';

/**
 * The connection to the session, on `main[data-connection]`: `reconnecting` from a drop (or a
 * reload) until the seat is taken back on a new connection, whatever the screen.
 */
export type ConnectionStatus = 'online' | 'reconnecting';

/** Why it is reconnecting, for the banner's words. */
export type ReconnectCause = 'dropped' | 'server-restart';

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
  /** False while this page asked for audio only (a weak connection): the server sends it no video. */
  receiveVideo: boolean;
  /** Set when the browser gave us less than a microphone and a camera. */
  deviceWarning?: string;
  /** Admitted people other than oneself, in room order (empty until one may see names). */
  peers: RemotePeer[];
  /** Facilitators: members' private signals, newest first, in this page's memory only. */
  privateSignals: ShownSignal[];
  /** This person's own screen share (see screen-share.ts). */
  share: ShareState;
  /** Why their share ended, to say once (a new object each time). */
  shareNotice?: { text: string } | undefined;
  /**
   * End-to-end encryption: whether this page has the room's key (and the safety code), how its
   * own frames go out, and each sender's frames as received here (see RoomEncryption).
   */
  encryption: { keys: KeyStatus; sending?: TransformStatus; peers: ReadonlyMap<string, TransformStatus> };
  /**
   * The facilitator's page once the session ended: the acknowledgement record is `offered`
   * (the server hands it to the facilitator link once), `downloaded` here, or `gone` (taken
   * already, or expired). Undefined for everyone else.
   */
  ackRecord?: 'offered' | 'downloaded' | 'gone';
}

export const initialSnapshot: RoomSnapshot = {
  status: 'idle',
  connection: 'online',
  returning: false,
  mediaRestarting: false,
  micOn: false,
  camOn: false,
  receiveVideo: true,
  peers: [],
  privateSignals: [],
  share: { phase: 'off' },
  encryption: { keys: { state: 'waiting' }, peers: new Map() },
};

/** Where the client is, before the view says more (`in`: entered or resumed). */
export type Phase = 'idle' | 'entering' | 'elsewhere' | 'in' | 'left' | 'ended' | 'error';

export function roomStatus(phase: Phase, view: RoomView | undefined, mediaReady: boolean): RoomStatus {
  if (phase !== 'in') return phase;
  if (!view) return 'entering';
  const { self } = view;
  if (self.stage === 'agreement') return 'agreement';
  if (self.stage === 'waiting') return 'waiting';
  if (self.mustAcknowledge) return 'reacknowledge';
  return self.media && mediaReady ? 'joined' : 'connecting';
}

/** The view's other admitted people, with the tracks received from each. */
export function remotePeers(view: RoomView | undefined, tracks: ReadonlyMap<string, ReceivedTracks>): RemotePeer[] {
  if (!view?.members) return [];
  return view.members.filter((m) => m.id !== view.self.id).map((m) => ({ ...m, ...tracks.get(m.id) }));
}
