'use client';

import type { Floor, RoomView, TurnTimeout } from '@group-room/shared';
import { useId, useState } from 'react';
import { nameOf, turnClock } from '@/lib/floor-status';
import type { RoomClient } from '@/lib/room-client';
import type { useAction } from './useAction';
import { useNow } from './useNow';

const TURN_LENGTHS: { seconds: number | null; label: string }[] = [
  { seconds: null, label: 'No limit' },
  { seconds: 15, label: '15 seconds' },
  { seconds: 30, label: '30 seconds' },
  { seconds: 60, label: '1 minute' },
  { seconds: 120, label: '2 minutes' },
  { seconds: 180, label: '3 minutes' },
  { seconds: 300, label: '5 minutes' },
];

type Order = 'arrival' | 'random';

interface Props {
  client: RoomClient;
  view: RoomView;
  floor: Floor;
  action: ReturnType<typeof useAction>;
}

/** Members who can take a turn now: in the room, with the current agreement accepted. */
function speakers(view: RoomView): string[] {
  return (view.facilitation?.everyone ?? [])
    .filter((m) => m.role === 'member' && m.stage === 'admitted' && m.acknowledgedVersion === view.agreement.version)
    .map((m) => m.id);
}

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

interface Settings {
  seconds: number | null;
  onTimeout: TurnTimeout;
  order: Order;
}

/** A talking-stick round: start one (limit, what happens at the limit, order), or run the current one. */
export function RoundControls({ client, view, floor, action }: Props) {
  // Kept while rounds come and go, so the next round starts the way the last one did.
  const [settings, setSettings] = useState<Settings>({ seconds: null, onTimeout: 'warn', order: 'arrival' });
  const round = floor.mode === 'round' ? floor.round : null;
  return round ? (
    <RunningRound client={client} view={view} floor={floor} round={round} action={action} />
  ) : (
    <StartRound client={client} view={view} action={action} settings={settings} onChange={(patch) => setSettings((s) => ({ ...s, ...patch }))} />
  );
}

interface StartProps extends Omit<Props, 'floor'> {
  settings: Settings;
  onChange: (patch: Partial<Settings>) => void;
}

function StartRound({ client, view, action, settings, onChange }: StartProps) {
  const id = useId();
  const { busy, run } = action;
  const { seconds, onTimeout, order } = settings;
  const eligible = speakers(view);

  const start = () =>
    void run(
      // The new turn is announced when it arrives (useFloorAnnouncements).
      () => client.startRound({ order: order === 'random' ? shuffled(eligible) : null, turnSeconds: seconds, onTimeout }),
    );

  return (
    <div className="round-start" role="group" aria-labelledby={`${id}-heading`}>
      <h3 id={`${id}-heading`}>Round</h3>
      <p className="hint">Everyone speaks in turn; only whoever has the turn is heard (you always are).</p>
      <div className="round-fields">
        <div className="field">
          <label htmlFor={`${id}-limit`}>Time per turn</label>
          <select id={`${id}-limit`} value={seconds ?? ''} onChange={(e) => onChange({ seconds: e.target.value === '' ? null : Number(e.target.value) })}>
            {TURN_LENGTHS.map((t) => (
              <option key={t.label} value={t.seconds ?? ''}>
                {t.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-order`}>Order</label>
          <select id={`${id}-order`} value={order} onChange={(e) => onChange({ order: e.target.value as Order })}>
            <option value="arrival">Order of arrival</option>
            <option value="random">Random order</option>
          </select>
        </div>
      </div>
      <fieldset className="radios" role="radiogroup" aria-labelledby={`${id}-timeout`}>
        <legend id={`${id}-timeout`}>When time is up</legend>
        <label className="check">
          <input type="radio" name={`${id}-timeout`} checked={onTimeout === 'warn'} onChange={() => onChange({ onTimeout: 'warn' })} />
          <span>Warn gently</span>
        </label>
        <label className="check">
          <input type="radio" name={`${id}-timeout`} checked={onTimeout === 'pass'} onChange={() => onChange({ onTimeout: 'pass' })} />
          <span>Pass automatically</span>
        </label>
      </fieldset>
      <button type="button" className="primary" disabled={busy || eligible.length === 0} onClick={start}>
        Start a round
      </button>
      {eligible.length === 0 && <p className="hint">A round needs at least one member in the room.</p>}
    </div>
  );
}

function RunningRound({ client, view, floor, round, action }: Omit<Props, 'floor'> & { floor: Floor; round: NonNullable<Floor['round']> }) {
  const { busy, run } = action;
  const now = useNow(1000, floor.turnEndsAt !== null);
  const left = turnClock(floor, now);
  const holder = nameOf(view, floor.holder);
  const upcoming = round.order.slice(round.position + 1).map((id) => nameOf(view, id));
  const timeUp = floor.turnEndsAt !== null && floor.turnEndsAt <= now;
  return (
    <div className="round-running" role="group" aria-label="Round">
      <h3>Round</h3>
      <p className={`round-turn${timeUp ? ' time-up' : ''}`}>
        <strong>{holder}&apos;s turn</strong>
        {left && <span className="turn-clock"> · {left}</span>}
        <span className="person-meta">
          {' '}
          · turn {round.position + 1} of {round.order.length}
          {round.turnSeconds !== null && (round.onTimeout === 'pass' ? ', passes on when time is up' : ', a gentle warning when time is up')}
        </span>
      </p>
      <p className="hint">{upcoming.length > 0 ? `Up next: ${upcoming.join(', ')}` : 'This is the last turn.'}</p>
      <div className="button-row">
        <button type="button" className="primary" disabled={busy} onClick={() => void run(() => client.passTurn())}>
          Next turn
        </button>
        <button type="button" disabled={busy} onClick={() => void run(() => client.endRound())}>
          End the round
        </button>
      </div>
    </div>
  );
}
