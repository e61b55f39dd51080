'use client';

import type { DeviceSource } from '@group-room/shared';
import { useId } from 'react';
import { device } from '@/lib/floor-status';
import type { RoomClient } from '@/lib/room-client';
import { useAction } from './useAction';

interface Props {
  client: RoomClient;
  /** What the facilitator asks this member to turn back on (view.self.asked). */
  asked: DeviceSource[];
}

/**
 * The facilitator's ask to turn a microphone or camera back on: only the member can. Accepting
 * lifts the facilitator's hold and turns it on here; "Not now" leaves it off.
 */
export function AskPrompt({ client, asked }: Props) {
  const id = useId();
  const { busy, error, run } = useAction();
  if (asked.length === 0) return null;
  return (
    <section className="ask-prompt" data-testid="ask-prompt" aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`} className="sr-only">
        A question from the facilitator
      </h2>
      {asked.map((source) => (
        <div key={source} className="ask" role="group" aria-labelledby={`${id}-${source}`}>
          <p id={`${id}-${source}`}>The facilitator asks you to turn your {device[source]} on</p>
          <div className="actions">
            <button
              type="button"
              className="primary"
              disabled={busy}
              onClick={() => void run(() => client.command({ type: 'ask.answer', source, accept: true }), `Your ${device[source]} is on.`)}
            >
              Turn my {device[source]} on
            </button>
            <button
              type="button"
              disabled={busy}
              // Two asks, two "Not now" buttons: each says what it keeps off.
              aria-label={asked.length > 1 ? `Not now: keep my ${device[source]} off` : undefined}
              onClick={() => void run(() => client.command({ type: 'ask.answer', source, accept: false }), `Your ${device[source]} stays off.`)}
            >
              Not now
            </button>
          </div>
        </div>
      ))}
      {error && <p className="error">{error}</p>}
    </section>
  );
}
