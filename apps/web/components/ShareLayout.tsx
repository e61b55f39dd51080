'use client';

import { useEffect, useRef, type ReactNode } from 'react';
import { asideShareNote, asideShown } from '@/lib/aside';
import type { RemotePeer, RoomSnapshot } from '@/lib/room-client';
import type { VideoPreference } from '@/lib/room-media';
import { useAnnounce } from './Announcer';
import { LockIcon } from './LockIcon';
import { useVideoPreference } from './useVideoPreference';

interface TileProps {
  name: string;
  track: MediaStreamTrack;
  /** One's own share, as a preview of what the group sees. */
  own?: boolean;
  onVideoPreference?: ((preference: VideoPreference | null) => void) | undefined;
  encryption?: 'decrypted' | 'failing' | 'encrypted' | 'no-key' | undefined;
}

/** A shared screen: the whole picture (never cropped or mirrored), with whose it is. */
function ShareTile({ name, track, own = false, onVideoPreference, encryption }: TileProps) {
  const tileRef = useRef<HTMLElement>(null);
  const videoRef = useRef<HTMLVideoElement>(null);
  useVideoPreference(tileRef, onVideoPreference);
  useEffect(() => {
    if (videoRef.current) videoRef.current.srcObject = new MediaStream([track]);
  }, [track]);
  const label = own ? 'Your shared screen' : `${name}’s screen`;
  return (
    <figure ref={tileRef} className={`tile share-tile${own ? ' own' : ''}`} data-testid={own ? 'own-share-tile' : 'share-tile'} data-peer-name={name} data-encryption={encryption ?? 'none'}>
      <video ref={videoRef} autoPlay playsInline muted aria-label={label} />
      <figcaption>
        {encryption === 'decrypted' && (
          <span className="lock">
            <LockIcon label="Encrypted end to end" />
          </span>
        )}
        <span className="name">{label}</span>
        {encryption === 'failing' && <span className="badge warning">Cannot decrypt</span>}
      </figcaption>
    </figure>
  );
}

interface Props {
  room: RoomSnapshot;
  /** Told how each shared screen's tile shows it (so the server sends nothing for one off screen). */
  onPreference: (peerId: string, preference: VideoPreference | null) => void;
  /** The cameras' grid. */
  children: ReactNode;
}

/**
 * While someone shares a screen, the share takes the big tile and the cameras go beside it (or
 * below it on a narrow screen, where the share fills the width). Without a share, just the grid.
 * A share across an aside (the two's at the group, the group's at the two) is not shown: the
 * server sends none of it across, so its tile would hold a frozen picture; a line says where it is.
 */
export function ShareLayout({ room, onPreference, children }: Props) {
  const aside = room.view ? asideShown(room.view) : null;
  const all = room.peers.filter((p): p is RemotePeer & { screen: MediaStreamTrack } => p.screen !== undefined);
  const away = all.flatMap((p) => {
    const note = asideShareNote(aside, p.id, p.displayName);
    return note === undefined ? [] : [{ id: p.id, note }];
  });
  const shares = all.filter((p) => !away.some((a) => a.id === p.id));
  const own = room.share.phase === 'on' || room.share.phase === 'starting' ? room.share.track : undefined;
  useShareArrivals(shares);
  const sharing = shares.length > 0 || own !== undefined;
  // Inside the shares' column when there is one (a cell of its own would upset the layout's grid).
  const awayNotes = away.map(({ id, note }) => (
    <p key={id} className="notice subtle" data-testid="share-away">
      {note}
    </p>
  ));
  // The same wrapper with or without a share, so the cameras' tiles (and their audio) are never remounted when one starts.
  return (
    <div className={sharing ? 'share-layout' : undefined} data-testid={sharing ? 'share-layout' : undefined}>
      {!sharing && awayNotes}
      {sharing && (
        <section className="shares" aria-label="Shared screens">
          {awayNotes}
          {shares.map((peer) => (
            <ShareTile
              key={peer.id}
              name={peer.displayName}
              track={peer.screen}
              onVideoPreference={(preference) => onPreference(peer.id, preference)}
              encryption={room.encryption.peers.get(`${peer.id}/screen`)}
            />
          ))}
          {own && <ShareTile name="You" track={own} own />}
        </section>
      )}
      {children}
    </div>
  );
}

/** Say who starts and stops sharing, so a screen reader user knows what the big tile shows. */
function useShareArrivals(shares: RemotePeer[]): void {
  const announce = useAnnounce();
  const before = useRef<Map<string, string> | null>(null);
  const key = shares.map((p) => p.id).join(',');
  useEffect(() => {
    const now = new Map(shares.map((p) => [p.id, p.displayName]));
    const previous = before.current;
    before.current = now;
    if (!previous) return;
    const started = [...now].filter(([id]) => !previous.has(id)).map(([, name]) => name);
    const stopped = [...previous].filter(([id]) => !now.has(id)).map(([, name]) => name);
    for (const name of started) announce(`${name} is sharing their screen.`);
    for (const name of stopped) announce(`${name} stopped sharing their screen.`);
    // Runs on a change of who shares (`key`), not on each new list of the same people.
  }, [key, announce]);
}
