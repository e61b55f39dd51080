'use client';

import type { FloorMode, RoomView } from '@group-room/shared';
import { useId, useState } from 'react';
import { eligibleSpeakers, membersInRoom, nameOf } from '@/lib/floor-status';
import type { TalkTimeReport } from '@/lib/facilitator-tools';
import type { RoomClient } from '@/lib/room-client';
import { HandQueue } from './HandQueue';
import { RoundControls } from './RoundControls';
import { useAction } from './useAction';
import { useTalkTime } from './useTalkTime';

const MODE_HINT: Record<FloorMode, string> = {
  open: 'Anyone may unmute and speak.',
  hands: 'Members raise a hand; only whoever has the floor is heard. You are always heard.',
  round: 'A round is going on. Choosing a mode ends it.',
};

interface Props {
  client: RoomClient;
  view: RoomView;
}

/** On an open floor, heard within this long before the latest talk-time report counts as speaking now. */
const SPEAKING_WITHIN_MS = 3000;

/**
 * Who "the speaker" is, for muting everyone else: whoever holds the floor (raised hands or a
 * round); on an open floor, where nobody holds it, the member in the room heard most recently
 * by the facilitators' talk-time report, if that was in its last few seconds. Null if nobody.
 */
function currentSpeaker(view: RoomView, report: TalkTimeReport | undefined): string | null {
  const floor = view.floor;
  if (!floor) return null;
  if (floor.mode !== 'open') return floor.holder;
  if (!report) return null;
  const inRoom = new Set(membersInRoom(view).map((m) => m.id));
  let speaker: { id: string; at: number } | null = null;
  for (const { memberId, lastSpokeAt } of report.members) {
    if (lastSpokeAt === null || !inRoom.has(memberId) || report.at - lastSpokeAt > SPEAKING_WITHIN_MS) continue;
    if (!speaker || lastSpokeAt > speaker.at) speaker = { id: memberId, at: lastSpokeAt };
  }
  return speaker?.id ?? null;
}

/** The facilitator's turn-taking tools: mode, the raised-hand queue, rounds and muting everyone. */
export function FloorPanel({ client, view }: Props) {
  const id = useId();
  const action = useAction();
  const { busy, error, run } = action;
  // Who is speaking on an open floor, from the talk-time report: re-renders only when that changes.
  const speaker = useTalkTime(client, (report) => currentSpeaker(view, report));
  const floor = view.floor;
  if (!floor) return null;
  const speakerName = speaker ? nameOf(view, speaker) : null;

  const setMode = (mode: 'open' | 'hands') =>
    void run(
      () => client.command({ type: 'floor.setMode', mode }),
      mode === 'open' ? 'The floor is open: everyone may unmute.' : 'Raised hands: members now raise a hand to speak.',
    );

  return (
    <section className="panel-section floor-panel" aria-labelledby={`${id}-heading`} data-testid="floor-panel">
      <h2 id={`${id}-heading`}>Turn-taking</h2>
      <div className="segmented" role="group" aria-label="How people speak">
        <button type="button" aria-pressed={floor.mode === 'open'} disabled={busy} onClick={() => setMode('open')}>
          Open floor
        </button>
        <button type="button" aria-pressed={floor.mode === 'hands'} disabled={busy} onClick={() => setMode('hands')}>
          Raised hands
        </button>
      </div>
      <p className="hint">{MODE_HINT[floor.mode]}</p>

      {floor.mode === 'hands' && (
        <>
          {floor.holder ? (
            <div className="holder">
              <p>
                <strong>{nameOf(view, floor.holder)} has the floor</strong>
              </p>
              <button type="button" className="small" disabled={busy} onClick={() => void run(() => client.command({ type: 'floor.release' }), 'You took the floor back.')}>
                Take the floor back
              </button>
            </div>
          ) : (
            <p className="hint">Nobody has the floor.</p>
          )}
          <HandQueue client={client} view={view} floor={floor} action={action} />
          <GiveFloor client={client} view={view} action={action} />
        </>
      )}

      <RoundControls client={client} view={view} floor={floor} action={action} />

      <div className="mute-all" role="group" aria-labelledby={`${id}-mute`}>
        <h3 id={`${id}-mute`}>Microphones</h3>
        <div className="button-row">
          <button type="button" className="small" disabled={busy} onClick={() => void run(() => client.command({ type: 'member.muteAll', except: null }), 'Every member’s microphone is off.')}>
            Mute everyone
          </button>
          <button
            type="button"
            className="small"
            disabled={busy || !speaker}
            aria-describedby={`${id}-speaker`}
            data-speaker={speaker ?? undefined}
            onClick={() => speaker && void run(() => client.command({ type: 'member.muteAll', except: speaker }), `Every member’s microphone is off, except ${speakerName}’s.`)}
          >
            Mute everyone but the speaker
          </button>
        </div>
        <p className="hint" id={`${id}-speaker`} data-testid="mute-all-speaker">
          {speakerName ? `Keeps ${speakerName}` : floor.mode === 'open' ? 'Nobody is speaking right now.' : 'Nobody has the floor.'}
        </p>
        <p className="hint">Only members can turn their microphone back on: ask them in the list of people below.</p>
      </div>
      {error && <p className="error">{error}</p>}
    </section>
  );
}

/** In raised-hands mode, the floor can go to anyone, not only to a raised hand. */
function GiveFloor({ client, view, action }: Props & { action: ReturnType<typeof useAction> }) {
  const id = useId();
  const [chosen, setChosen] = useState('');
  const floor = view.floor;
  const others = eligibleSpeakers(view).filter((m) => m.id !== floor?.holder && !floor?.hands.includes(m.id));
  if (others.length === 0) return null;
  const target = others.find((m) => m.id === chosen) ?? others[0];
  return (
    <div className="give-floor">
      <label htmlFor={`${id}-who`}>Give the floor to someone without a raised hand</label>
      <div className="copy-row">
        <select id={`${id}-who`} value={target?.id ?? ''} onChange={(e) => setChosen(e.target.value)}>
          {others.map((m) => (
            <option key={m.id} value={m.id}>
              {m.displayName}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="small"
          disabled={action.busy || !target}
          onClick={() => target && void action.run(() => client.command({ type: 'floor.grant', memberId: target.id }), `You gave the floor to ${target.displayName}.`)}
        >
          Give them the floor
        </button>
      </div>
    </div>
  );
}
