import { ProtocolFailure, type ProducerView } from '@group-room/shared';
import { requireMember, withMember, type RoomChange } from './state.js';

/* The room state's record of each member's media, so others' views show mic and camera. */

export const putProducer =
  (memberId: string, producer: ProducerView): RoomChange =>
  (state) => {
    const member = requireMember(state, memberId);
    return withMember(state, { ...member, producers: { ...member.producers, [producer.id]: producer } });
  };

export const setProducerPaused =
  (memberId: string, producerId: string, paused: boolean): RoomChange =>
  (state) => {
    const member = requireMember(state, memberId);
    const producer = member.producers[producerId];
    if (!producer) throw new ProtocolFailure('NOT_FOUND', 'No such producer');
    if (producer.paused === paused) return state;
    return withMember(state, { ...member, producers: { ...member.producers, [producerId]: { ...producer, paused } } });
  };

export const removeProducer =
  (memberId: string, producerId: string): RoomChange =>
  (state) => {
    const member = state.members[memberId];
    if (!member?.producers[producerId]) return state;
    const producers = { ...member.producers };
    delete producers[producerId];
    return withMember(state, { ...member, producers });
  };
