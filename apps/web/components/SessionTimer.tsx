'use client';

import type { SessionFrame } from '@group-room/shared';
import { useEffect, useRef } from 'react';
import { clockTime, duration } from '@/lib/format';
import { useAnnounce } from './Announcer';
import { useNow, type Clock } from './useNow';

type Phase = 'before' | 'running' | 'warning' | 'over';

function phaseAt(session: SessionFrame, now: number): Phase {
  if (now < session.startsAt) return 'before';
  if (now >= session.endsAt) return 'over';
  return session.endsAt - now <= session.warnMinutes * 60_000 ? 'warning' : 'running';
}

/**
 * Time left in the session, for everyone in the room. A warning when `warnMinutes` remain and
 * "Time is up" after the end, each announced once; the facilitator ends the session.
 */
export function SessionTimer({ session, clock = Date.now }: { session: SessionFrame; clock?: Clock }) {
  const now = useNow(1000, true, clock);
  const phase = phaseAt(session, now);
  const announce = useAnnounce();
  const announced = useRef<Phase | null>(null);

  useEffect(() => {
    if (announced.current === phase) return;
    const first = announced.current === null;
    announced.current = phase;
    if (phase === 'warning') announce(`${duration(session.endsAt - clock())} left in the session.`);
    else if (phase === 'over') announce('Time is up. The facilitator will close the session.');
    else if (!first && phase === 'running') announce('The session has started.');
  }, [phase, announce, session.endsAt, clock]);

  let text: string;
  if (phase === 'before') text = `Starts at ${clockTime(session.startsAt)}`;
  else if (phase === 'over') text = 'Time is up';
  else text = `${duration(session.endsAt - now)} left`;

  return (
    <p className={`timer ${phase}`} data-testid="session-timer" title={`Ends at ${clockTime(session.endsAt)}`}>
      <span className="sr-only">Session time: </span>
      {text}
      {phase === 'warning' && <span className="timer-note"> · ends at {clockTime(session.endsAt)}</span>}
    </p>
  );
}
