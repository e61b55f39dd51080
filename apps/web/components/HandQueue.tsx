'use client';

import type { Floor, RoomView } from '@group-room/shared';
import { nameOf } from '@/lib/floor-status';
import type { RoomClient } from '@/lib/room-client';
import type { useAction } from './useAction';

interface Props {
  client: RoomClient;
  view: RoomView;
  floor: Floor;
  action: ReturnType<typeof useAction>;
}

/** The raised-hand queue, first in line first: give the floor, move up, skip, lower; clear all. */
export function HandQueue({ client, view, floor, action }: Props) {
  const { busy, run } = action;
  const { hands } = floor;
  return (
    <div className="hand-queue">
      <h3>
        Raised hands <span className="count">{hands.length}</span>
      </h3>
      <ol className="people queue" data-testid="hand-queue">
        {hands.map((memberId, index) => {
          const name = nameOf(view, memberId);
          return (
            <li key={memberId} data-member-name={name}>
              <span className="person">
                <span className="person-name">
                  <span className="queue-place" aria-hidden="true">
                    {index + 1}.
                  </span>{' '}
                  {name}
                </span>
              </span>
              <span className="person-actions">
                <button
                  type="button"
                  className={`small${index === 0 ? ' primary' : ''}`}
                  disabled={busy}
                  aria-label={`Give the floor to ${name}`}
                  onClick={() => void run(() => client.command({ type: 'floor.grant', memberId }), `You gave the floor to ${name}.`)}
                >
                  Give the floor
                </button>
                <button
                  type="button"
                  className="small"
                  disabled={busy || index === 0}
                  aria-label={`Move up: ${name}`}
                  onClick={() => void run(() => client.command({ type: 'hands.move', memberId, to: index - 1 }), `${name} moved up to place ${index}.`)}
                >
                  Move up
                </button>
                <button
                  type="button"
                  className="small"
                  disabled={busy || index === hands.length - 1}
                  aria-label={`Skip ${name}`}
                  onClick={() => void run(() => client.command({ type: 'hands.move', memberId, to: hands.length }), `${name} moved to the end of the line.`)}
                >
                  Skip
                </button>
                <button
                  type="button"
                  className="small"
                  disabled={busy}
                  aria-label={`Lower ${name}'s hand`}
                  onClick={() => void run(() => client.command({ type: 'hand.lower', memberId }), `${name}'s hand was lowered.`)}
                >
                  Lower
                </button>
              </span>
            </li>
          );
        })}
      </ol>
      {hands.length === 0 ? (
        <p className="hint">No hands are up. Members raise a hand with the button under their status, or the H key.</p>
      ) : (
        <button type="button" className="small" disabled={busy} onClick={() => void run(() => client.command({ type: 'hands.clear' }), 'All hands were lowered.')}>
          Clear all hands
        </button>
      )}
    </div>
  );
}
