'use client';

import { isFacilitatorRole, type RoomView } from '@group-room/shared';
import { useId } from 'react';
import { asideShown, asideTileNote } from '@/lib/aside';
import { floorComes, ownSending, queuePlace, waitingForFloor } from '@/lib/floor-status';
import type { RoomClient, RoomSnapshot } from '@/lib/room-client';
import { useAnnounce } from './Announcer';
import { AskPrompt } from './AskPrompt';
import { AsideBanner } from './AsideBanner';
import { CheckoutForm } from './CheckoutForm';
import { MediaControls } from './MediaControls';
import { EncryptionStatus } from './EncryptionStatus';
import { MediaTile } from './MediaTile';
import { MemberFloorBar } from './MemberFloorBar';
import { PrivateSignalMenu } from './PrivateSignalMenu';
import { SessionTimer } from './SessionTimer';
import { ShareControls } from './ShareControls';
import { ShareLayout } from './ShareLayout';
import { PartBoundary } from './PartBoundary';
import { LazyFacilitatorPanel } from './room-screens';
import { roleLabel } from './roles';
import { useAction } from './useAction';
import { useRoomArrivals, useWaitingArrivals } from './useArrivals';
import { useFloorAnnouncements } from './useFloorAnnouncements';
import { useFocusOnMount } from './useFocusOnMount';
import { useShortcutSetting, useShortcuts } from './useShortcuts';

interface Props {
  client: RoomClient;
  room: RoomSnapshot;
  view: RoomView;
}

/** The room itself: the timer, the floor, everyone's tiles, the controls and, for facilitators, their panel. */
export function InRoom({ client, room, view }: Props) {
  const id = useId();
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const announce = useAnnounce();
  const facilitating = isFacilitatorRole(view.self.role) && Boolean(view.facilitation);
  const isMember = view.self.role === 'member';
  const { waiting, arrived } = useWaitingArrivals(view.facilitation?.everyone);
  useRoomArrivals(room.peers);
  useFloorAnnouncements(view, client.serverNow);

  const floor = view.floor;
  const { held } = view.self;
  const ids = { floorHint: `${id}-floor-hint`, heldNotice: `${id}-held` };
  const hasMic = Boolean(room.localStream?.getAudioTracks().length);
  // What the group receives of this person, as the server says (not just their own switches).
  const sending = ownSending(view, room);
  // Aside: the two's tiles say whom they are with, to the group (and the group's, to the two).
  const aside = asideShown(view);

  // Facilitators can tell who is paused until they accept a changed agreement.
  const reading = new Set(
    (view.facilitation?.everyone ?? []).filter((m) => m.role === 'member' && m.acknowledgedVersion !== view.agreement.version).map((m) => m.id),
  );
  // With more than two tiles, whoever holds the floor gets a large tile (and so the sharp video layer).
  const speakerView = room.peers.length + 1 > 2;
  const floorOf = (memberId: string) => {
    if (!floor || floor.mode === 'open') return undefined;
    return { holding: floor.holder === memberId, handPlace: queuePlace(floor, memberId) };
  };

  // One's own microphone and camera: a switch the server did not take is said and shown below the buttons.
  const media = useAction();
  const toggle = (source: 'mic' | 'camera', enabled: boolean, success?: string) => void media.run(() => client.devices.setEnabled(source, enabled), success);

  const toggleMic = () => {
    if (!hasMic) return;
    if (held.mic === 'facilitator') return announce('The facilitator turned your microphone off. You can turn it on again when they ask you.');
    // Held by the floor, one's own switch still works: off at once, or on for when the floor comes.
    const on = !room.micOn;
    toggle('mic', on, on ? (held.mic === 'floor' ? `Microphone on. You will be heard when ${floorComes(floor)}.` : 'Microphone on.') : 'Microphone off.');
  };

  // Single-key shortcuts can be turned off (WCAG 2.1.4); H (raise or lower a hand) is MemberFloorBar's.
  const [shortcutsOn, setShortcutsOn] = useShortcutSetting();
  useShortcuts({ m: toggleMic }, shortcutsOn);

  return (
    <div className={`in-room${facilitating ? ' with-panel' : ''}`}>
      <header className="room-header">
        <div>
          <h1 ref={heading} tabIndex={-1}>
            {view.title || 'Group session'}
          </h1>
          {view.self.role !== 'member' && <p className="role-note">You are the {roleLabel[view.self.role].toLowerCase()}</p>}
        </div>
        <SessionTimer session={view.session} clock={client.serverNow} />
      </header>

      {facilitating && waiting.length > 0 && (
        <a href="#waiting-list" className={`waiting-banner${arrived ? ' arrived' : ''}`} data-testid="waiting-banner">
          {waiting.length === 1 ? `${waiting[0]?.displayName ?? 'Someone'} is waiting to come in` : `${waiting.length} people are waiting to come in`}
          <span aria-hidden="true"> →</span>
        </a>
      )}
      {view.locked && <p className="notice subtle">The room is locked: nobody new can come in.</p>}
      {room.status === 'connecting' && (
        <p className="notice subtle" role="status">
          {room.mediaRestarting ? 'Reconnecting audio and video…' : 'Connecting your camera and microphone…'}
        </p>
      )}
      {room.deviceWarning && <p className="notice">{room.deviceWarning}</p>}
      <EncryptionStatus keys={room.encryption.keys} />
      <AsideBanner client={client} view={view} />

      <div className="room-layout">
        <div className="stage">
          <MemberFloorBar client={client} view={view} micOn={room.micOn} ids={ids} shortcuts={shortcutsOn} />
          {isMember && <AskPrompt client={client} asked={view.self.asked} />}
          {isMember && view.checkout && <CheckoutForm client={client} checkout={view.checkout} answered={view.self.checkedOut} />}
          <ShareLayout room={room} onPreference={(peerId, preference) => client.share.preferScreen(peerId, preference)}>
            <section className={`grid${speakerView ? ' speaker-view' : ''}`} aria-label="People in the room">
              <MediaTile
                name={view.self.displayName}
                video={room.localStream}
                self
                roleLabel={view.self.role !== 'member' ? roleLabel[view.self.role] : undefined}
                micOn={sending.mic}
                camOn={sending.camera}
                micStandby={waitingForFloor(view, room.micOn, sending.mic)}
                floor={floorOf(view.self.id)}
                encryption={room.encryption.sending}
                testId="self-tile"
              />
              {room.peers.map((peer) => (
                <MediaTile
                  key={peer.id}
                  peerId={peer.id}
                  name={peer.displayName}
                  video={peer.video}
                  audio={peer.audio}
                  roleLabel={peer.role !== 'member' ? roleLabel[peer.role] : undefined}
                  note={asideTileNote(aside, peer.id) ?? (reading.has(peer.id) ? 'Reading the new agreement' : undefined)}
                  micOn={peer.sending.mic}
                  camOn={peer.sending.camera}
                  videoPaused={!room.receiveVideo}
                  reconnecting={peer.connection === 'reconnecting'}
                  floor={floorOf(peer.id)}
                  onVideoPreference={(preference) => client.devices.preferVideo(peer.id, preference)}
                  encryption={room.encryption.peers.get(peer.id)}
                  sharing={peer.sending.screen}
                  testId="peer-tile"
                />
              ))}
            </section>
          </ShareLayout>
          {room.peers.length === 0 && <p className="hint">Nobody else is in the room yet. Others appear here when they come in.</p>}
          <MediaControls
            room={room}
            onToggle={toggle}
            onLeave={() => void client.leave()}
            held={held}
            heldReasonId={{ mic: held.mic === 'floor' ? ids.floorHint : ids.heldNotice, camera: ids.heldNotice }}
            shortcuts={shortcutsOn}
          />
          {media.error && <p className="error media-error">{media.error}</p>}
          <ShareControls client={client} room={room} view={view} />
          <div className="shortcuts">
            <label className="check">
              <input
                type="checkbox"
                checked={!room.receiveVideo}
                onChange={(e) => {
                  const audioOnly = e.target.checked;
                  void media.run(
                    () => client.devices.setReceiveVideo(!audioOnly),
                    audioOnly ? "Audio only: you hear everyone, and others' video is not sent to you." : "Others' video is back.",
                  );
                }}
              />
              <span>Audio only (for a weak connection)</span>
            </label>
            <label className="check">
              <input type="checkbox" checked={shortcutsOn} onChange={(e) => setShortcutsOn(e.target.checked)} />
              <span>Single-key shortcuts (M, H)</span>
            </label>
            {shortcutsOn && (
              <p className="hint shortcut-keys">
                Keys: <kbd>M</kbd> mute or unmute
                {isMember && floor?.mode === 'hands' && (
                  <>
                    , <kbd>H</kbd> raise or lower your hand
                  </>
                )}
              </p>
            )}
          </div>
          {isMember && <PrivateSignalMenu client={client} />}
        </div>
        {facilitating && (
          <PartBoundary
            fallback={
              <p className="lead" role="status">
                Opening the facilitator tools…
              </p>
            }
          >
            <LazyFacilitatorPanel client={client} room={room} view={view} arrived={arrived} />
          </PartBoundary>
        )}
      </div>
    </div>
  );
}
