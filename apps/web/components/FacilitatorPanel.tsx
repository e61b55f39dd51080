'use client';

import type { RoomView } from '@group-room/shared';
import type { RoomClient, RoomSnapshot } from '@/lib/room-client';
import { AgreementEditor } from './AgreementEditor';
import { CheckoutPanel } from './CheckoutPanel';
import { EndSession } from './EndSession';
import { FloorPanel } from './FloorPanel';
import { InviteLinks } from './InviteLinks';
import { MemberList } from './MemberList';
import { PrivateSignals } from './PrivateSignals';
import { ShareSettings } from './ShareSettings';
import { TalkTimeBars } from './TalkTimeBars';
import { WaitingList } from './WaitingList';

interface Props {
  client: RoomClient;
  room: RoomSnapshot;
  view: RoomView;
  /** Someone has just arrived in the waiting room. */
  arrived: boolean;
}

/** Everything a facilitator (or co-facilitator) runs the session with. */
export function FacilitatorPanel({ client, room, view, arrived }: Props) {
  const facilitation = view.facilitation;
  if (!facilitation) return null;
  return (
    <aside className="facilitator-panel" aria-label="Facilitator tools" data-testid="facilitator-panel">
      <WaitingList client={client} everyone={facilitation.everyone} autoAdmit={facilitation.autoAdmit} locked={view.locked} highlight={arrived} />
      <PrivateSignals client={client} signals={room.privateSignals} view={view} />
      <CheckoutPanel client={client} view={view} />
      <FloorPanel client={client} view={view} />
      <TalkTimeBars client={client} view={view} />
      <MemberList client={client} view={view} everyone={facilitation.everyone} />
      <ShareSettings client={client} view={view} everyone={facilitation.everyone} />
      <InviteLinks client={client} view={view} />
      <AgreementEditor client={client} agreement={view.agreement} everyone={facilitation.everyone} acknowledgements={facilitation.acknowledgements} />
      <EndSession client={client} everyone={facilitation.everyone} selfId={view.self.id} />
    </aside>
  );
}
