'use client';

import type { RoomView } from '@group-room/shared';
import { useId } from 'react';
import { membersInRoom } from '@/lib/floor-status';
import { clock } from '@/lib/format';
import type { RoomClient } from '@/lib/room-client';
import { useTalkTime } from './useTalkTime';

interface Props {
  client: RoomClient;
  view: RoomView;
}

interface Row {
  id: string;
  name: string;
  speakingMs: number;
  lastSpokeAt: number | null;
}

/**
 * Each member's share of the talking so far and how long since they last spoke, in room order
 * (rows never jump), with the quietest marked. For facilitators only; members never see it.
 */
export function TalkTimeBars({ client, view }: Props) {
  const id = useId();
  // The server's latest report (about once a second); none yet before media starts.
  const report = useTalkTime(client);
  const byId = new Map((report?.members ?? []).map((e) => [e.memberId, e]));
  const rows: Row[] = membersInRoom(view).map((m) => {
    const entry = byId.get(m.id);
    return { id: m.id, name: m.displayName, speakingMs: entry?.speakingMs ?? 0, lastSpokeAt: entry?.lastSpokeAt ?? null };
  });
  const total = rows.reduce((sum, r) => sum + r.speakingMs, 0);
  const least = Math.min(...rows.map((r) => r.speakingMs));
  // The quietest is only news once someone has talked more than them.
  const quietest = (r: Row) => rows.length > 1 && total > 0 && r.speakingMs === least;
  const at = report?.at ?? Date.now();

  return (
    <section className="panel-section talk-time" aria-labelledby={`${id}-heading`} data-testid="talk-time">
      <h2 id={`${id}-heading`}>Talk time</h2>
      {rows.length === 0 ? (
        <p className="hint">Members&apos; speaking time shows here once they are in the room.</p>
      ) : (
        <ul className="talk-rows">
          {rows.map((r) => {
            const share = total > 0 ? r.speakingMs / total : 0;
            const percent = Math.round(share * 100);
            const detail =
              r.lastSpokeAt === null
                ? 'not heard yet'
                : `${clock(r.speakingMs)} · ${percent}% · last spoke ${clock(Math.max(0, at - r.lastSpokeAt))} ago`;
            return (
              <li
                key={r.id}
                className={quietest(r) ? 'quietest' : undefined}
                data-testid="talk-time-row"
                data-member-name={r.name}
                data-speaking-ms={Math.round(r.speakingMs)}
                data-quietest={quietest(r) ? 'true' : undefined}
              >
                <span className="talk-name">
                  {r.name}
                  {quietest(r) && <span className="tag">quietest</span>}
                </span>
                <span className="talk-bar" aria-hidden="true">
                  <span data-testid="talk-time-bar" style={{ width: `${share * 100}%` }} />
                </span>
                <span className="talk-detail">{detail}</span>
              </li>
            );
          })}
        </ul>
      )}
      <p className="hint">From microphone levels. Only facilitators see this, and it is never stored.</p>
    </section>
  );
}
