'use client';

import { isFacilitatorRole, RoomId } from '@group-room/shared';
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { keepLinkSecret, keptLinkSecret, secretFromHash, tokenFromHash } from '@/lib/e2ee/link-secrets';
import { transformApi } from '@/lib/e2ee/transform-api';
import { keptSeat } from '@/lib/seat';
import { RoomClient, initialSnapshot, type RoomSnapshot, type RoomStatus } from '@/lib/room-client';
import { Announcer, useAnnounce } from './Announcer';
import { EntryForm } from './EntryForm';
import { PartBoundary } from './PartBoundary';
import { ReconnectingBanner, reconnectingText } from './ReconnectingBanner';
import { ReturningScreen } from './ReturningScreen';
import { LazyAgreementScreen, LazyEndScreen, LazyInRoom, LazyOpenElsewhereScreen, LazyPrivateSignalMenu, LazyWaitingScreen, preloadFacilitatorCode, preloadRoomCode } from './room-screens';

/**
 * The link's token: undefined while rendering on the server (and until the page has read it),
 * null if there is none. Once read it is dropped from the address bar and the history entry
 * (`history.replaceState` to the path), so it is not left on screen, in the history or in a
 * screenshot; from then on it lives only in this component's memory. A fragment pasted later
 * (hashchange) replaces it.
 */
function useLinkToken(roomId: string): string | null | undefined {
  const [token, setToken] = useState<string | null | undefined>(undefined);
  useEffect(() => {
    const read = () => {
      // A token without its secret cannot open the encrypted room: the link was cut short.
      const secret = secretFromHash(window.location.hash);
      const fromHash = secret ? tokenFromHash(window.location.hash) : null;
      if (secret && fromHash) keepLinkSecret(roomId, secret);
      if (window.location.hash) {
        window.history.replaceState(window.history.state, '', window.location.pathname + window.location.search);
      }
      setToken((kept) => fromHash ?? kept ?? null);
    };
    read();
    window.addEventListener('hashchange', read);
    return () => window.removeEventListener('hashchange', read);
  }, [roomId]);
  return token;
}

/**
 * The room page for every link. What follows entering depends on the role the server reads
 * from the token: facilitators go straight in, members read the agreement and wait.
 * `main[data-status]` is the client's status (see RoomStatus), or `loading` /
 * `incomplete-link` before there is a client to ask; `main[data-connection]` is `online` or
 * `reconnecting` (see ConnectionStatus).
 */
export function RoomPage({ roomId }: { roomId: string }) {
  const token = useLinkToken(roomId);
  const validRoom = RoomId.safeParse(roomId).success;
  return (
    <Announcer>
      {token === undefined ? (
        <main className="page narrow" data-status="loading" />
      ) : !transformApi() ? (
        <UnsupportedBrowser />
      ) : !validRoom || (!token && !keptSeat(roomId)) || !keptLinkSecret(roomId) ? (
        <IncompleteLink />
      ) : (
        <Room key={roomId} roomId={roomId} token={token} />
      )}
    </Announcer>
  );
}

/** No encoded transforms: this browser could only send and receive unencrypted media, which the room never does. */
function UnsupportedBrowser() {
  return (
    <main className="page narrow" data-status="unsupported-browser">
      <section className="card">
        <h1>This browser cannot join an encrypted room</h1>
        <p>
          Every session here is end-to-end encrypted, and this browser cannot encrypt audio and video itself. Open the link in a current version of
          Chrome, Edge, Firefox or Safari (on a phone as well as on a computer).
        </p>
      </section>
    </main>
  );
}

function IncompleteLink() {
  return (
    <main className="page narrow" data-status="incomplete-link">
      <IncompleteLinkCard />
    </main>
  );
}

function IncompleteLinkCard() {
  return (
    <section className="card">
      <h1>This link is incomplete</h1>
      <p>
        A room link ends with <code>#k=</code> and two long codes. Copy the whole link again from the message you were sent, or ask your facilitator for a
        new one.
      </p>
      <a href="/">Go to the start page</a>
    </section>
  );
}

/**
 * `token` is null after a reload without the link's fragment: the tab's kept seat is taken
 * back; if that fails there is nothing to enter with, and the page says the link is incomplete.
 */
function Room({ roomId, token }: { roomId: string; token: string | null }) {
  // Reads the seat this tab kept for the room, if any: then it is taken back instead of entering.
  const [client] = useState(() => new RoomClient(roomId));
  const room: RoomSnapshot = useSyncExternalStore(client.subscribe, client.getSnapshot, () => initialSnapshot);
  const announce = useAnnounce();

  useEffect(() => {
    client.attach();
    return () => client.detach();
  }, [client]);

  // Failures, and being let in, are said out loud as well as shown.
  const previous = useRef(room.status);
  useEffect(() => {
    const before = previous.current;
    previous.current = room.status;
    if (room.status === 'error' && room.message) announce(room.message);
    else if (before === 'waiting' && (room.status === 'connecting' || room.status === 'joined')) announce('The facilitator has let you in.');
  }, [room.status, room.message, announce]);

  // A dropped connection and its return are said too; the entry form's notice (a seat not kept) as well.
  const wasConnection = useRef(room.connection);
  const inSession = room.status !== 'idle' && room.status !== 'entering' && room.status !== 'elsewhere' && !isOver(room.status);
  useEffect(() => {
    const before = wasConnection.current;
    wasConnection.current = room.connection;
    if (before === room.connection) return;
    if (room.connection === 'reconnecting' && inSession) announce(reconnectingText(room.reconnectCause));
    else if (room.connection === 'online' && inSession) announce('You are back in the session.');
  }, [room.connection, room.reconnectCause, inSession, announce]);
  useEffect(() => {
    if (room.notice) announce(room.notice);
  }, [room.notice, announce]);

  // Once on the way in (entering, or taking a kept seat back), the room's own code is fetched
  // in the background: the entry form did not need it, everything after it does.
  const onTheWayIn = room.status !== 'idle' || room.returning;
  useEffect(() => {
    if (onTheWayIn) preloadRoomCode();
  }, [onTheWayIn]);
  // A facilitator's tools as soon as the server says this is a facilitator (members never load them).
  const facilitator = room.view ? isFacilitatorRole(room.view.self.role) : false;
  useEffect(() => {
    if (facilitator) preloadFacilitatorCode();
  }, [facilitator]);

  const view = room.view;
  const leave = () => void client.leave();
  // In the waiting room the switch is only local: it fails only without that device.
  const toggle = (source: 'mic' | 'camera', enabled: boolean) =>
    void client.devices.setEnabled(source, enabled).then((result) => {
      if (!result.ok) announce(result.message);
    });

  let screen;
  switch (room.status) {
    case 'idle':
    case 'entering':
      screen = room.returning ? (
        <ReturningScreen onLeave={leave} />
      ) : token ? (
        <EntryForm room={room} onEnter={(name) => void client.enter(token, name)} />
      ) : (
        <IncompleteLinkCard />
      );
      break;
    case 'elsewhere':
      screen = <LazyOpenElsewhereScreen notice={room.notice} onContinue={() => client.continueHere()} />;
      break;
    case 'agreement':
    case 'reacknowledge':
      screen = view && (
        <LazyAgreementScreen
          key={room.status}
          agreement={view.agreement}
          mode={room.status === 'agreement' ? 'entry' : 'changed'}
          onAgree={(version) => client.command({ type: 'agreement.acknowledge', version, privateSpace: true })}
          onLeave={leave}
        >
          {/* Paused while re-reading, a member can still tell the facilitators something privately. */}
          {room.status === 'reacknowledge' && view.self.role === 'member' && <LazyPrivateSignalMenu client={client} />}
        </LazyAgreementScreen>
      );
      break;
    case 'waiting':
      screen = view && <LazyWaitingScreen client={client} view={view} room={room} onToggle={toggle} onLeave={leave} />;
      break;
    case 'connecting':
    case 'joined':
      screen = view && <LazyInRoom client={client} room={room} view={view} />;
      break;
    default:
      // Cleared off the way in: straight back to the agreement with the same link and name.
      screen = (
        <LazyEndScreen
          room={room}
          onReturn={() => (room.endReason === 'cleared' ? client.enterAgain() : client.reset())}
          onDownloadRecord={() => client.downloadAcknowledgements()}
          checkout={client.checkout}
        />
      );
  }

  const wide = room.status === 'connecting' || room.status === 'joined';
  return (
    <main className={`page room${wide ? '' : ' narrow'}`} data-status={room.status} data-connection={room.connection}>
      {room.connection === 'reconnecting' && !room.returning && <ReconnectingBanner cause={room.reconnectCause} />}
      {/* Screens after the entry form arrive in chunks of their own (room-screens.ts), fetched while on the way in. */}
      <PartBoundary
        resetKey={room.status}
        fallback={
          <p className="lead" role="status">
            Opening…
          </p>
        }
      >
        {screen}
      </PartBoundary>
    </main>
  );
}

const isOver = (status: RoomStatus): boolean => status === 'left' || status === 'ended' || status === 'error';
