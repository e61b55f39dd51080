import type { MediaSource } from '@group-room/shared';
import type { types } from 'mediasoup';
import { describe, expect, it } from 'vitest';
import type { MediaPolicy } from '../room/state.js';
import { PeerMedia, type ConsumerData, type ProducerData } from './peer-media.js';
import { applyPolicy } from './policy-sync.js';
import { NOBODY, SILENT, type RoomContext } from './room-context.js';

/*
 * The order a new policy is applied in (no worker: stand-ins for mediasoup's producers and
 * consumers, each pause or resume taking a turn of the event loop as a worker's answer does).
 * What stops flowing must have stopped before anything starts: when an aside starts under
 * raised hands, the member's mic is resumed (the floor no longer holds it) in the same policy
 * that pauses the group's consumers of it; resumed first, the mic would reach the group.
 */

type Step = `${'pause' | 'resume'} ${'start' | 'end'} ${string}`;

/** A producer or consumer stand-in: `paused` set once the "worker" has answered, like mediasoup's. */
function stand(name: string, paused: boolean, log: Step[]) {
  const object = {
    id: name,
    closed: false,
    paused,
    async pause() {
      log.push(`pause start ${name}`);
      await new Promise((resolve) => setImmediate(resolve));
      object.paused = true;
      log.push(`pause end ${name}`);
    },
    async resume() {
      log.push(`resume start ${name}`);
      await new Promise((resolve) => setImmediate(resolve));
      object.paused = false;
      log.push(`resume end ${name}`);
    },
  };
  return object;
}

function producer(peerId: string, source: MediaSource, paused: boolean, log: Step[]): types.Producer<ProducerData> {
  const appData: ProducerData = { peerId, source, selfPaused: false, recorded: false };
  return Object.assign(stand(`${peerId}-${source}`, paused, log), { appData }) as unknown as types.Producer<ProducerData>;
}

function consumer(receiverId: string, senderId: string, source: MediaSource, paused: boolean, log: Step[]): types.Consumer<ConsumerData> {
  const appData: ConsumerData = { clientReady: true, senderId, source, visible: true, tileHeight: undefined };
  const kind = source === 'mic' ? 'audio' : 'video';
  return Object.assign(stand(`${senderId}-${source}@${receiverId}`, paused, log), { appData, kind }) as unknown as types.Consumer<ConsumerData>;
}

const policy = (everyone: string[], mic: string[], apart: [string, string][] = []): MediaPolicy => ({
  ...NOBODY,
  receive: new Set(everyone),
  send: { mic: new Set(mic), camera: new Set(everyone), screen: new Set() },
  apart: new Map(apart),
});

/**
 * Sam facilitates, Alex is a member, Gil is in the group (joined first, so his consumers come
 * first in the room's order), floor in hands mode: Alex's mic held, Sam's not.
 */
function room(log: Step[]): RoomContext {
  const [gil, sam, alex] = ['gil', 'sam', 'alex'].map((id) => new PeerMedia(id, () => undefined)) as [PeerMedia, PeerMedia, PeerMedia];
  const put = <T extends { id: string }>(into: Map<string, T>, item: T) => into.set(item.id, item);
  put(sam.producers, producer('sam', 'mic', false, log));
  put(alex.producers, producer('alex', 'mic', true, log));
  put(gil.consumers, consumer('gil', 'alex', 'mic', false, log));
  put(gil.consumers, consumer('gil', 'sam', 'mic', false, log));
  put(sam.consumers, consumer('sam', 'alex', 'mic', false, log));
  put(alex.consumers, consumer('alex', 'sam', 'mic', false, log));
  return {
    router: undefined as unknown as types.Router,
    peers: new Map([gil, sam, alex].map((p) => [p.id, p])),
    policy: policy(['gil', 'sam', 'alex'], ['sam', 'gil']),
    mayAct: () => true,
    log: SILENT,
    tap: undefined,
  };
}

/** Every pause has ended before the first resume starts. */
function pausesFirst(log: Step[]): void {
  const firstResume = log.findIndex((step) => step.startsWith('resume start'));
  const lastPause = log.map((step) => step.startsWith('pause end')).lastIndexOf(true);
  expect(firstResume, log.join('\n')).toBeGreaterThan(lastPause);
}

describe('applyPolicy', () => {
  it('pauses everything that stops before resuming anything that starts, both ways of an aside', async () => {
    const log: Step[] = [];
    const media = room(log);
    const everyone = ['gil', 'sam', 'alex'];
    // Alex is taken aside: his mic resumes (the floor does not hold him there), Gil stops hearing either.
    await applyPolicy(media, policy(everyone, ['sam', 'gil', 'alex'], [['sam', 'aside'], ['alex', 'aside']]));
    expect(log.filter((s) => s.includes('end')).sort()).toEqual(['pause end alex-mic@gil', 'pause end sam-mic@gil', 'resume end alex-mic'].sort());
    pausesFirst(log);

    // Back in the group: Alex's mic is held by the floor again before Gil's consumers resume.
    log.length = 0;
    await applyPolicy(media, policy(everyone, ['sam', 'gil']));
    expect(log.filter((s) => s.includes('end')).sort()).toEqual(['pause end alex-mic', 'resume end alex-mic@gil', 'resume end sam-mic@gil'].sort());
    pausesFirst(log);
  });
});
