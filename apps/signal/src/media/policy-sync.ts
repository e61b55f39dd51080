import { ProtocolFailure, type MediaSource } from '@group-room/shared';
import type { types } from 'mediasoup';
import type { MediaPolicy } from '../room/state.js';
import type { ConsumerData, PeerMedia, ProducerData } from './peer-media.js';
import { peerOf, type RoomContext } from './room-context.js';

/*
 * What flows is decided on the server: the room state says who may send and receive, and every
 * producer and consumer is paused or resumed to match, so no client can bypass it.
 */

/**
 * Apply who may send and receive now: pause or resume every producer and consumer to match,
 * and close every screen producer the state recorded and no longer has. Whatever stops flowing
 * has stopped (the worker answered) before anything starts: one policy can resume a producer
 * and pause consumers of it (an aside starting under raised hands frees the member's mic while
 * the group stops hearing them; the reverse on return), and a resume reaching the worker first
 * would let the group hear them for a moment.
 */
export async function applyPolicy(room: RoomContext, policy: MediaPolicy): Promise<Recorded[]> {
  room.policy = policy;
  const recorded = reconcileScreens(room);
  const syncs: { pausing: boolean; sync: () => Promise<void> }[] = [];
  for (const peer of room.peers.values()) {
    for (const producer of peer.producers.values()) {
      syncs.push({ pausing: !producer.paused && producerHeld(room, peer.id, producer), sync: () => syncProducer(room, peer.id, producer) });
    }
    for (const consumer of peer.consumers.values()) {
      syncs.push({ pausing: !consumer.paused && consumerHeld(room, peer.id, consumer), sync: () => syncConsumer(room, peer.id, consumer) });
    }
  }
  await Promise.all(syncs.filter((s) => s.pausing).map((s) => s.sync()));
  await Promise.all(syncs.filter((s) => !s.pausing).map((s) => s.sync()));
  return recorded;
}

/** A screen producer the state has just recorded: to be offered to the others now. */
export interface Recorded {
  sender: PeerMedia;
  producer: types.Producer<ProducerData>;
}

/*
 * A screen producer is made first and recorded in the state after (the state's change is
 * where its authorisation and the count of shares are checked, atomically). Until recorded it
 * stays paused and is offered to nobody; once recorded, it is offered to the others (returned
 * here), and the state is what keeps it: a withdrawal, a stop, a facilitator's share replacing
 * it or its sender leaving removes it from the state, and here it is closed, which closes its
 * consumers (each receiver is told `consumer:closed`).
 */
function reconcileScreens(room: RoomContext): Recorded[] {
  const recorded: Recorded[] = [];
  for (const sender of room.peers.values()) {
    for (const producer of sender.producers.values()) {
      if (producer.appData.source !== 'screen') continue;
      if (!room.policy.shares.has(producer.id)) {
        if (producer.appData.recorded) producer.close();
      } else if (!producer.appData.recorded) {
        producer.appData.recorded = true;
        recorded.push({ sender, producer });
      }
    }
  }
  return recorded;
}

/** Whether a receiver is offered this producer: a screen only once the state records it. */
export const offerable = (producer: types.Producer<ProducerData>): boolean => producer.appData.source !== 'screen' || producer.appData.recorded;

/**
 * Whether the policy lets this source of this member flow now. A screen also needs its
 * producer recorded in the state (`producerId` undefined: not made yet, so not recorded).
 */
export function mayFlow(room: RoomContext, peerId: string, source: MediaSource, producerId: string | undefined): boolean {
  if (!room.policy.send[source].has(peerId)) return false;
  return source !== 'screen' || (producerId !== undefined && room.policy.shares.has(producerId));
}

/** The space a member is in: the group, or apart (aside) with someone. */
const spaceOf = (room: RoomContext, peerId: string): string => room.policy.apart.get(peerId) ?? 'group';

export function producerOf(room: RoomContext, peerId: string, producerId: string): types.Producer<ProducerData> {
  const producer = peerOf(room, peerId).producers.get(producerId);
  if (!producer) throw new ProtocolFailure('NOT_FOUND', 'No such producer');
  return producer;
}

/** The member's own mic/camera toggle; the producer stays paused while the policy says so. */
export async function setProducerPaused(room: RoomContext, peerId: string, producerId: string, paused: boolean): Promise<void> {
  const producer = producerOf(room, peerId, producerId);
  producer.appData.selfPaused = paused;
  await syncProducer(room, peerId, producer);
}

/** The member's latest own wish for a producer (undefined once it is gone). */
export function selfPaused(room: RoomContext, peerId: string, producerId: string): boolean | undefined {
  return room.peers.get(peerId)?.producers.get(producerId)?.appData.selfPaused;
}

/** Whether a producer is to be paused now: by its sender, or by the policy. */
function producerHeld(room: RoomContext, peerId: string, producer: types.Producer<ProducerData>): boolean {
  return producer.appData.selfPaused || !mayFlow(room, peerId, producer.appData.source, producer.id);
}

/** Whether a receiver's consumer is to be paused now. */
function consumerHeld(room: RoomContext, peerId: string, consumer: types.Consumer<ConsumerData>): boolean {
  const audioOnly = consumer.kind === 'video' && room.peers.get(peerId)?.receiveVideo === false;
  // Media flows only within one space: the two aside and the group hear and see nothing of each other.
  const apart = spaceOf(room, peerId) !== spaceOf(room, consumer.appData.senderId);
  // Without the room's lease this node forwards nothing: another node may be serving the room.
  return !consumer.appData.clientReady || !room.policy.receive.has(peerId) || apart || audioOnly || !consumer.appData.visible || !room.mayAct();
}

/*
 * Both syncs loop until the producer or consumer matches what is wanted *now*: mediasoup
 * updates `paused` only when a pause/resume completes, so a change of policy during an
 * in-flight resume would otherwise see "already paused" and leave media flowing.
 */
export async function syncProducer(room: RoomContext, peerId: string, producer: types.Producer<ProducerData>): Promise<void> {
  for (;;) {
    const paused = producerHeld(room, peerId, producer);
    if (producer.closed || producer.paused === paused) return;
    if (paused) await producer.pause();
    else await producer.resume();
  }
}

export async function syncConsumer(room: RoomContext, peerId: string, consumer: types.Consumer<ConsumerData>): Promise<void> {
  for (;;) {
    const paused = consumerHeld(room, peerId, consumer);
    if (consumer.closed || consumer.paused === paused) return;
    if (paused) await consumer.pause();
    else await consumer.resume();
  }
}
