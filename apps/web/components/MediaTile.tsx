'use client';

import { useEffect, useRef } from 'react';
import { markTileFrame, watchFirstFrame } from '@/lib/join-timeline';
import type { VideoPreference } from '@/lib/room-media';
import { LockIcon } from './LockIcon';
import { useVideoPreference } from './useVideoPreference';

interface Props {
  name: string;
  video?: MediaStream | MediaStreamTrack | undefined;
  audio?: MediaStreamTrack | undefined;
  self?: boolean;
  /** Shown under the name, e.g. "Facilitator". */
  roleLabel?: string | undefined;
  /** Why this person's media is held, e.g. "Reading the new agreement"; hides their video. */
  note?: string | undefined;
  micOn: boolean;
  camOn: boolean;
  /** The microphone is on at their end but held until they have the floor: "Waiting for the floor", not "Muted". */
  micStandby?: boolean | undefined;
  /** This page asked for audio only: the server sends no video, so the tile shows the initial, not a frozen frame. */
  videoPaused?: boolean | undefined;
  /** Their connection dropped: the tile is dimmed and says so until they are back (their seat is kept). */
  reconnecting?: boolean | undefined;
  /** They share their screen now (shown in a tile of its own). */
  sharing?: boolean | undefined;
  /** Where they are on the floor: holding it (highlighted), or their hand up (place in line). */
  floor?: { holding: boolean; handPlace: number | null } | undefined;
  /** Told how this tile shows the video it receives (on screen, height), so the server sends no more than that. */
  onVideoPreference?: ((preference: VideoPreference | null) => void) | undefined;
  /**
   * End-to-end encryption of what this tile receives (or, on one's own tile, sends):
   * `decrypted`/`encrypted` shows the lock, only once a frame really was; `failing`/`no-key` says so.
   */
  encryption?: 'decrypted' | 'failing' | 'encrypted' | 'no-key' | undefined;
  testId: string;
  /** A remote member's camera tile: their id, so the tile's first frame is marked on the join timeline. */
  peerId?: string | undefined;
}

function asStream(media: MediaStream | MediaStreamTrack | undefined): MediaStream | null {
  if (!media) return null;
  return media instanceof MediaStream ? media : new MediaStream([media]);
}

/** One person's tile: their video (or initial), their name, and their remote audio. */
export function MediaTile({ name, video, audio, self = false, roleLabel, note, micOn, camOn, micStandby = false, videoPaused = false, reconnecting = false, sharing = false, floor, onVideoPreference, encryption, testId, peerId }: Props) {
  const tileRef = useRef<HTMLElement>(null);
  const videoRef = useRef<HTMLVideoElement>(null);
  const audioRef = useRef<HTMLAudioElement>(null);
  useVideoPreference(tileRef, onVideoPreference);

  useEffect(() => {
    const element = videoRef.current;
    if (!element) return;
    element.srcObject = asStream(video);
    if (peerId && video) return watchFirstFrame(element, () => markTileFrame(peerId));
  }, [video, peerId]);

  useEffect(() => {
    if (audioRef.current) audioRef.current.srcObject = asStream(audio);
  }, [audio]);

  const showVideo = Boolean(video) && camOn && !note && !videoPaused;
  const label = self ? `${name} (you)` : name;
  return (
    <figure
      ref={tileRef}
      className={`tile${self ? ' self' : ''}${floor?.holding ? ' holding' : ''}${reconnecting ? ' reconnecting' : ''}`}
      data-testid={testId}
      data-peer-name={name}
      data-connection={reconnecting ? 'reconnecting' : 'online'}
      data-encryption={encryption ?? 'none'}
    >
      <video ref={videoRef} autoPlay playsInline muted hidden={!showVideo} aria-label={self ? 'Your video' : `${name}'s video`} />
      {!showVideo && (
        <div className="avatar" aria-hidden="true">
          {name.slice(0, 1).toUpperCase()}
        </div>
      )}
      {!self && <audio ref={audioRef} autoPlay />}
      <figcaption>
        {(encryption === 'decrypted' || encryption === 'encrypted') && (
          <span className="lock">
            <LockIcon label={self ? 'Your audio and video leave encrypted' : 'Encrypted end to end'} />
          </span>
        )}
        <span className="name">{label}</span>
        {encryption === 'failing' && <span className="badge warning">Cannot decrypt</span>}
        {roleLabel && <span className="badge role">{roleLabel}</span>}
        {reconnecting && <span className="badge connection">Reconnecting…</span>}
        {floor?.holding && <span className="badge floor">Has the floor</span>}
        {sharing && <span className="badge sharing">Sharing their screen</span>}
        {floor && floor.handPlace !== null && <span className="badge hand">Hand raised ({floor.handPlace})</span>}
        {note ? (
          <span className="badge note">{note}</span>
        ) : (
          <>
            {!micOn && (micStandby ? <span className="badge standby">Waiting for the floor</span> : <span className="badge">Muted</span>)}
            {!camOn && <span className="badge">Camera off</span>}
          </>
        )}
      </figcaption>
    </figure>
  );
}
