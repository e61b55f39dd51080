'use client';

import type { Floor, RoomView, TurnTimeout } from '@group-room/shared';
import { useEffect, useId, useRef, useState } from 'react';
import { eligibleSpeakers, nameOf, turnClock } from '@/lib/floor-status';
import { countdown, ordinal } from '@/lib/format';
import type { RoomClient } from '@/lib/room-client';
import { useAnnounce } from './Announcer';
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

type Order = 'arrival' | 'random' | 'custom';

interface Props {
  client: RoomClient;
  view: RoomView;
  floor: Floor;
  action: ReturnType<typeof useAction>;
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
  /** The order the facilitator set (`custom`): member ids, some perhaps gone since. */
  custom: string[];
  /** Those the facilitator left out of a set order. */
  leftOut: string[];
}

/** A set order brought up to date: those still here as they were placed, then newcomers as they came in. */
function arrange(custom: string[], eligible: string[]): string[] {
  const here = new Set(eligible);
  const kept = custom.filter((memberId) => here.has(memberId));
  return [...kept, ...eligible.filter((memberId) => !kept.includes(memberId))];
}

/** A talking-stick round: start one (limit, what happens at the limit, order), or run the current one. */
export function RoundControls({ client, view, floor, action }: Props) {
  // Kept while rounds come and go, so the next round starts the way the last one did.
  const [settings, setSettings] = useState<Settings>({ seconds: null, onTimeout: 'warn', order: 'arrival', custom: [], leftOut: [] });
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
  const eligible = eligibleSpeakers(view).map((m) => m.id);
  const arranged = arrange(settings.custom, eligible);
  const chosen = arranged.filter((memberId) => !settings.leftOut.includes(memberId));
  const nobody = order === 'custom' ? chosen.length === 0 : eligible.length === 0;

  const start = () =>
    void run(
      // The new turn is announced when it arrives (useFloorAnnouncements).
      () =>
        client.command({
          type: 'round.start',
          order: order === 'random' ? shuffled(eligible) : order === 'custom' ? chosen : null,
          turnSeconds: seconds,
          onTimeout,
        }),
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
            <option value="custom">Set the order</option>
          </select>
        </div>
      </div>
      {order === 'custom' && arranged.length > 0 && (
        <OrderEditor view={view} arranged={arranged} leftOut={settings.leftOut} onChange={(custom, leftOut) => onChange({ custom, leftOut })} />
      )}
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
      <button type="button" className="primary" disabled={busy || nobody} onClick={start}>
        Start a round
      </button>
      {eligible.length === 0 && <p className="hint">A round needs at least one member in the room.</p>}
      {eligible.length > 0 && nobody && <p className="hint">Include at least one member in the order.</p>}
    </div>
  );
}

interface OrderProps {
  view: RoomView;
  /** Everyone who can take a turn, in the order set so far. */
  arranged: string[];
  leftOut: string[];
  onChange: (custom: string[], leftOut: string[]) => void;
}

/** The facilitator's own order for a round: move people earlier or later, leave someone out. */
function OrderEditor({ view, arranged, leftOut, onChange }: OrderProps) {
  const id = useId();
  const announce = useAnnounce();
  // A moved row's button keeps the focus (or its twin, once it cannot move further that way).
  const refocus = useRef<{ memberId: string; way: 'earlier' | 'later' } | null>(null);
  useEffect(() => {
    const wanted = refocus.current;
    if (!wanted) return;
    refocus.current = null;
    const button = (way: string) => document.getElementById(`${id}-${way}-${wanted.memberId}`) as HTMLButtonElement | null;
    const same = button(wanted.way);
    (same && !same.disabled ? same : button(wanted.way === 'earlier' ? 'later' : 'earlier'))?.focus();
  });

  const included = arranged.filter((memberId) => !leftOut.includes(memberId));
  const placeOf = (memberId: string, order: string[]) => order.filter((m) => !leftOut.includes(m)).indexOf(memberId) + 1;

  const move = (memberId: string, way: 'earlier' | 'later') => {
    const at = arranged.indexOf(memberId);
    const to = way === 'earlier' ? at - 1 : at + 1;
    if (at === -1 || to < 0 || to >= arranged.length) return;
    const next = [...arranged];
    [next[at], next[to]] = [next[to] as string, next[at] as string];
    refocus.current = { memberId, way };
    onChange(next, leftOut);
    const place = placeOf(memberId, next);
    announce(place > 0 ? `${nameOf(view, memberId)} now speaks ${ordinal(place)}.` : `${nameOf(view, memberId)} moved ${way}.`);
  };

  const include = (memberId: string, yes: boolean) =>
    onChange(arranged, yes ? leftOut.filter((m) => m !== memberId) : [...leftOut.filter((m) => arranged.includes(m)), memberId]);

  return (
    <div className="order-editor" role="group" aria-labelledby={`${id}-heading`}>
      <p className="order-heading" id={`${id}-heading`}>
        Order of turns <span className="count">{included.length}</span>
      </p>
      <p className="hint">First at the top. Untick anyone who should not have a turn; newcomers join at the end.</p>
      <ol className="people queue order-list" data-testid="round-order">
        {arranged.map((memberId, index) => {
          const name = nameOf(view, memberId);
          const inRound = !leftOut.includes(memberId);
          const place = placeOf(memberId, arranged);
          return (
            <li key={memberId} data-member-name={name} className={inRound ? undefined : 'left-out'}>
              <label className="check order-include">
                <input type="checkbox" checked={inRound} aria-label={`Include ${name}`} onChange={(e) => include(memberId, e.target.checked)} />
                <span className="person-name">
                  <span className="queue-place" aria-hidden="true">
                    {inRound ? `${place}.` : '–'}
                  </span>{' '}
                  {name}
                  {!inRound && <span className="person-meta"> (left out)</span>}
                </span>
              </label>
              <span className="person-actions">
                <button
                  type="button"
                  id={`${id}-earlier-${memberId}`}
                  className="small"
                  disabled={index === 0}
                  aria-label={`Move ${name} earlier`}
                  onClick={() => move(memberId, 'earlier')}
                >
                  Earlier
                </button>
                <button
                  type="button"
                  id={`${id}-later-${memberId}`}
                  className="small"
                  disabled={index === arranged.length - 1}
                  aria-label={`Move ${name} later`}
                  onClick={() => move(memberId, 'later')}
                >
                  Later
                </button>
              </span>
            </li>
          );
        })}
      </ol>
    </div>
  );
}

function RunningRound({ client, view, floor, round, action }: Omit<Props, 'floor'> & { floor: Floor; round: NonNullable<Floor['round']> }) {
  const { busy, run } = action;
  const now = useNow(1000, floor.turnEndsAt !== null, client.serverNow);
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
      {floor.turnPausedMs !== null && (
        <p className="hint">
          Paused while {holder} reconnects, with {countdown(floor.turnPausedMs)} left. Next turn moves the round on without waiting.
        </p>
      )}
      <p className="hint">{upcoming.length > 0 ? `Up next: ${upcoming.join(', ')}` : 'This is the last turn.'}</p>
      <div className="button-row">
        <button type="button" className="primary" disabled={busy} onClick={() => void run(() => client.command({ type: 'round.pass' }))}>
          Next turn
        </button>
        <button type="button" disabled={busy} onClick={() => void run(() => client.command({ type: 'round.end' }))}>
          End the round
        </button>
      </div>
    </div>
  );
}
