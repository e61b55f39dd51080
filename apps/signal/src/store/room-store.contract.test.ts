import { randomUUID } from 'node:crypto';
import { ProtocolFailure, type Role } from '@group-room/shared';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../logger.js';
import { applyCommand } from '../room/commands.js';
import { enter, leave } from '../room/entry.js';
import { putProducer } from '../room/producers.js';
import { memberCount, newRoom, type RoomState } from '../room/state.js';
import { MemoryRoomStore } from './memory-room-store.js';
import { RedisRoomStore } from './redis-room-store.js';
import { fixedTtl, LeaseLost, NameInUse, roomTtl, type Fence, type RoomStore, type RoomTtl } from './room-store.js';

/*
 * One contract, every RoomStore. The Redis runs use a real server, a key prefix unique to
 * this run (deleted afterwards) and two store instances, i.e. two connections, as two
 * signalling nodes sharing one Redis would.
 */

const REDIS_URL = 'redis://127.0.0.1:6379';
const quiet = createLogger('error', () => undefined);
const TTL_SECONDS = 3600;
const RETENTION_SECONDS = 7 * 24 * 3600;

interface Harness {
  /** The store under test. */
  store: RoomStore;
  /** Stores that share the same rooms (two nodes); for memory both are the same instance. */
  nodes: [RoomStore, RoomStore];
  close(): Promise<void>;
}

interface Implementation {
  name: string;
  make(ttl?: RoomTtl, maxRooms?: number): Promise<Harness>;
}

let redis: RedisClientType;
const prefix = `group-room-test:${process.pid}:${randomUUID()}:`;

async function deleteTestKeys(): Promise<void> {
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
    if (keys.length) await redis.del(keys);
  }
}

const implementations: Implementation[] = [
  {
    name: 'MemoryRoomStore',
    async make(ttl = fixedTtl(TTL_SECONDS), maxRooms?: number) {
      const store = new MemoryRoomStore(ttl, maxRooms);
      return { store, nodes: [store, store], close: () => store.close() };
    },
  },
  {
    name: 'RedisRoomStore',
    async make(ttl = fixedTtl(TTL_SECONDS), maxRooms?: number) {
      const a = await RedisRoomStore.connect({ url: REDIS_URL, prefix, ttl, log: quiet, maxRooms });
      const b = await RedisRoomStore.connect({ url: REDIS_URL, prefix, ttl, log: quiet, maxRooms });
      return {
        store: a,
        nodes: [a, b],
        close: async () => {
          await a.close();
          await b.close();
        },
      };
    },
  },
];

beforeAll(async () => {
  redis = createClient({ url: REDIS_URL });
  redis.on('error', () => undefined);
  await redis.connect();
});

afterAll(async () => {
  await deleteTestKeys();
  const left = [];
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*` })) left.push(...keys);
  expect(left).toEqual([]);
  await redis.close();
});

let counter = 0;
const freshRoomId = () => `contract-${++counter}-${randomUUID().slice(0, 8)}`;

const AGREEMENT = 'What is said here stays here.';

function room(id: string, capacity = 16, now = 1000, startsAt = now, durationMinutes = 90): RoomState {
  return newRoom({ id, capacity, title: 'Tuesday group', agreement: AGREEMENT, startsAt, durationMinutes }, now);
}

const member = (id: string, role: Role = 'member') =>
  enter({ id, displayName: `Name ${id}`, role, inviteId: role === 'member' ? `invite-${id}` : null }, 5);

const acknowledge = (state: RoomState, id: string) =>
  applyCommand(id, { type: 'agreement.acknowledge', version: state.agreement.version, privateSpace: true }, 7);

async function expectFailure(promise: Promise<unknown>, code: string): Promise<ProtocolFailure> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProtocolFailure);
  expect((error as ProtocolFailure).code).toBe(code);
  return error as ProtocolFailure;
}

/** Make a node (named `name`, id `node-<name>`) live and the room's home; its fence. */
async function homeOn(store: RoomStore, roomId: string, name: string): Promise<Fence> {
  const node = { id: `node-${name}-${roomId}`, name: `${name}-${roomId}`.toLowerCase() };
  await store.renewLease(node, 5000);
  const claim = await store.claimHome(roomId, node, { takeLapsed: false });
  if (claim.kind !== 'here') throw new Error(`could not take the room: ${claim.kind}`);
  return claim.fence;
}

describe.each(implementations)('RoomStore contract: $name', ({ make }) => {
  let h: Harness;
  let store: RoomStore;

  beforeEach(async () => {
    h = await make();
    store = h.store;
  });

  afterEach(async () => {
    await h.close();
  });

  describe('create and get', () => {
    it('stores a new room and reads it back', async () => {
      const fresh = room(freshRoomId());
      expect(await store.create(fresh)).toBe(true);
      expect(await store.get(fresh.id)).toEqual(fresh);
    });

    it('returns false when the room exists, and keeps the existing room', async () => {
      const id = freshRoomId();
      const first = member('a')(room(id, 16, 1000));
      expect(await store.create(first)).toBe(true);
      expect(await store.create(room(id, 4, 2000))).toBe(false);
      expect(await store.get(id)).toEqual(first);
    });

    it('returns null for a room that does not exist', async () => {
      expect(await store.get(freshRoomId())).toBeNull();
    });

    it('hands out frozen states: writing to what get returned throws and changes nothing', async () => {
      const fresh = room(freshRoomId());
      await store.create(fresh);
      const read = (await store.get(fresh.id))!;
      expect(() => (read.members['x'] = { ...member('x')(fresh).members['x']! })).toThrow(TypeError);
      expect(() => (read.capacity = 99)).toThrow(TypeError);
      expect(() => read.blockedInvites.push('i')).toThrow(TypeError);
      expect(() => (read.session.endsAt = 0)).toThrow(TypeError);
      expect(await store.get(fresh.id)).toEqual(fresh);
    });

    it('keeps its own copy of the room it was given to create', async () => {
      const fresh = room(freshRoomId());
      const mine = structuredClone(fresh);
      await store.create(mine);
      mine.capacity = 99;
      mine.blockedInvites.push('i');
      expect(Object.isFrozen(mine)).toBe(false);
      expect(await store.get(fresh.id)).toEqual(fresh);
    });

    it('is shared between nodes', async () => {
      const [a, b] = h.nodes;
      const fresh = room(freshRoomId());
      expect(await a.create(fresh)).toBe(true);
      expect(await b.create(fresh)).toBe(false);
      expect(await b.get(fresh.id)).toEqual(fresh);
    });
  });

  describe('update', () => {
    it('applies the change, bumps the version and returns what it stored', async () => {
      const fresh = room(freshRoomId());
      await store.create(fresh);
      const updated = await store.update(fresh.id, member('a'));
      expect(updated.version).toBe(1);
      expect(updated.members['a']).toMatchObject({ id: 'a', displayName: 'Name a', stage: 'agreement', enteredAt: 5, producers: {} });
      expect(await store.get(fresh.id)).toEqual(updated);

      const again = await store.update(fresh.id, putProducer('a', { id: 'p', kind: 'audio', source: 'mic', paused: false }));
      expect(again.version).toBe(2);
      expect(await store.get(fresh.id)).toEqual(again);

      const acknowledged = await store.update(fresh.id, acknowledge(again, 'a'));
      expect(acknowledged.version).toBe(3);
      expect(acknowledged.members['a']?.stage).toBe('waiting');
      expect(acknowledged.acknowledgements).toEqual([{ memberId: 'a', displayName: 'Name a', version: fresh.agreement.version, at: 7 }]);
      expect(await store.get(fresh.id)).toEqual(acknowledged);
    });

    it('does not bump the version for a change that returns the state unchanged', async () => {
      const fresh = room(freshRoomId());
      await store.create(fresh);
      await store.update(fresh.id, member('f', 'facilitator'));
      const before = await store.get(fresh.id);
      for (const change of [leave('nobody'), applyCommand('f', { type: 'room.setLocked', locked: false })]) {
        const result = await store.update(fresh.id, change);
        expect(result).toEqual(before);
        expect(result.version).toBe(1);
      }
      expect(await store.get(fresh.id)).toEqual(before);
    });

    it('leaves the state unchanged and propagates the ProtocolFailure when the change throws', async () => {
      const fresh = room(freshRoomId(), 2);
      await store.create(fresh);
      await store.update(fresh.id, member('a'));
      await store.update(fresh.id, member('b'));
      const before = await store.get(fresh.id);

      const failure = await expectFailure(store.update(fresh.id, member('c')), 'ROOM_FULL');
      expect(failure.message).toMatch(/on their way in/); // two members at the agreement fill the line in
      await expectFailure(store.update(fresh.id, applyCommand('a', { type: 'room.setLocked', locked: true })), 'FORBIDDEN');
      expect(await store.get(fresh.id)).toEqual(before);
    });

    it('gives a change a frozen state: a change that writes to it fails and writes nothing', async () => {
      const fresh = room(freshRoomId());
      await store.create(fresh);
      await store.update(fresh.id, member('a'));
      const before = await store.get(fresh.id);
      const writes: ((state: RoomState) => void)[] = [
        (state) => (state.members['intruder'] = { ...member('intruder')(fresh).members['intruder']! }),
        (state) => (state.capacity = 1),
        (state) => state.acknowledgements.push({ memberId: 'intruder', displayName: 'x', version: 'v', at: 0 }),
        (state) => (state.members['a']!.displayName = 'changed'),
        (state) => (state.floor.hands = ['a']),
      ];
      for (const write of writes) {
        await expect(
          store.update(fresh.id, (state) => {
            write(state);
            return { ...state, capacity: 2 };
          }),
        ).rejects.toBeInstanceOf(TypeError);
      }
      expect(await store.get(fresh.id)).toEqual(before);
    });

    describe('given the state the caller knows (known)', () => {
      it('applies the change to the stored state when the known one is old', async () => {
        const fresh = room(freshRoomId());
        await store.create(fresh);
        const old = await store.update(fresh.id, member('a'));
        await store.update(fresh.id, member('b'));
        const result = await store.update(fresh.id, member('c'), undefined, old);
        expect(Object.keys(result.members).sort()).toEqual(['a', 'b', 'c']);
        expect(result.version).toBe(3);
        expect(await store.get(fresh.id)).toEqual(result);
      });

      it('applies the change to the known state when it is current', async () => {
        const fresh = room(freshRoomId());
        await store.create(fresh);
        const known = await store.update(fresh.id, member('a'));
        const result = await store.update(fresh.id, member('b'), undefined, known);
        expect(Object.keys(result.members).sort()).toEqual(['a', 'b']);
        expect(await store.get(fresh.id)).toEqual(result);
      });

      it('writes a change that would leave an old known state unchanged', async () => {
        const fresh = room(freshRoomId());
        await store.create(fresh);
        const unlocked = await store.update(fresh.id, member('f', 'facilitator'));
        await store.update(fresh.id, applyCommand('f', { type: 'room.setLocked', locked: true }));
        // On what the caller knows the room is unlocked already; it is locked in the store.
        const result = await store.update(fresh.id, applyCommand('f', { type: 'room.setLocked', locked: false }), undefined, unlocked);
        expect(result.locked).toBe(false);
        expect((await store.get(fresh.id))!.locked).toBe(false);
      });

      it('does not refuse a change on an old known state that the stored one allows', async () => {
        const fresh = room(freshRoomId());
        await store.create(fresh);
        const before = await store.update(fresh.id, member('f', 'facilitator'));
        await store.update(fresh.id, member('a'));
        // `a` is not in the known state: acknowledging would be refused there.
        const result = await store.update(fresh.id, acknowledge(before, 'a'), undefined, before);
        expect(result.members['a']!.acknowledgedVersion).toBe(before.agreement.version);
      });

      it('still refuses what the stored state refuses', async () => {
        const fresh = room(freshRoomId());
        await store.create(fresh);
        const known = await store.update(fresh.id, member('a'));
        await expectFailure(store.update(fresh.id, applyCommand('a', { type: 'room.setLocked', locked: true }), undefined, known), 'FORBIDDEN');
        expect(await store.get(fresh.id)).toEqual(known);
      });
    });

    it('propagates errors that are not ProtocolFailures unchanged', async () => {
      const fresh = room(freshRoomId());
      await store.create(fresh);
      const boom = new Error('boom');
      await expect(
        store.update(fresh.id, () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(await store.get(fresh.id)).toEqual(fresh);
    });

    it('is NOT_FOUND for a room that does not exist, without calling the change', async () => {
      const change = vi.fn((state: RoomState) => state);
      await expectFailure(store.update(freshRoomId(), change), 'NOT_FOUND');
      expect(change).not.toHaveBeenCalled();
    });

    it('does not let a change change the stored state through a reference it kept', async () => {
      const fresh = room(freshRoomId());
      await store.create(fresh);
      let seen: RoomState | undefined;
      const returned = await store.update(fresh.id, (state) => {
        seen = state;
        return member('a')(state);
      });
      expect(() => (seen!.capacity = 1)).toThrow(TypeError);
      expect(() => (seen!.members = {})).toThrow(TypeError);
      // Nor through what update returned (the stored state itself, for the in-memory store).
      expect(() => (returned.capacity = 1)).toThrow(TypeError);
      expect(() => (returned.members['a']!.stage = 'admitted')).toThrow(TypeError);
      const stored = (await store.get(fresh.id))!;
      expect(stored.capacity).toBe(16);
      expect(Object.keys(stored.members)).toEqual(['a']);
    });
  });

  describe('end and the acknowledgement record', () => {
    it('keeps only the acknowledgement record: get is null, update NOT_FOUND, the record readable', async () => {
      const id = freshRoomId();
      await store.create(room(id));
      await store.update(id, member('a'));
      await store.update(id, member('b'));
      await store.update(id, member('f', 'facilitator'));
      for (const who of ['a', 'b']) {
        const current = (await store.get(id))!;
        await store.update(id, acknowledge(current, who));
      }
      const ended = await store.update(id, applyCommand('f', { type: 'session.end' }));
      expect(ended.ended).toBe(true);

      const record = await store.end(id, RETENTION_SECONDS);
      expect(record).toEqual(ended.acknowledgements);
      expect(record?.map((a) => a.memberId)).toEqual(['a', 'b']);
      expect(await store.get(id)).toBeNull();
      await expectFailure(store.update(id, member('c')), 'NOT_FOUND');
      expect(await store.acknowledgementRecord(id)).toEqual(ended.acknowledgements);
      // Another node sees the same record.
      expect(await h.nodes[1].acknowledgementRecord(id)).toEqual(ended.acknowledgements);
    });

    it('keeps an empty record for a session nobody acknowledged', async () => {
      const id = freshRoomId();
      await store.create(room(id));
      expect(await store.end(id, RETENTION_SECONDS)).toEqual([]);
      expect(await store.acknowledgementRecord(id)).toEqual([]);
    });

    it('returns null for a room that does not exist, and has no record for it', async () => {
      const id = freshRoomId();
      expect(await store.end(id, RETENTION_SECONDS)).toBeNull();
      expect(await store.acknowledgementRecord(id)).toBeNull();
    });

    it('has no record while the room is live, and delete leaves none', async () => {
      const id = freshRoomId();
      await store.create(room(id));
      expect(await store.acknowledgementRecord(id)).toBeNull();
      await store.delete(id);
      expect(await store.acknowledgementRecord(id)).toBeNull();
    });

    it('hands the record out once (takeAcknowledgements), and only to the facilitator link generation it was kept for', async () => {
      const id = freshRoomId();
      await store.create(room(id));
      await store.update(id, member('a'));
      await store.update(id, member('f', 'facilitator'));
      await store.update(id, acknowledge((await store.get(id))!, 'a'));
      // The facilitator link was replaced twice before the end: only a link of generation 2 takes it.
      await store.update(id, (s) => ({ ...s, facilitatorLinkGeneration: 2 }));
      const ended = await store.update(id, applyCommand('f', { type: 'session.end' }));
      await store.end(id, RETENTION_SECONDS);
      expect(await store.takeAcknowledgements(id, 0)).toBeNull();
      expect(await store.takeAcknowledgements(id, 1)).toBeNull();
      expect(await store.takeAcknowledgements(id, 3)).toBeNull();
      expect(await store.acknowledgementRecord(id)).toEqual(ended.acknowledgements); // refused, not deleted
      const taken = await h.nodes[1].takeAcknowledgements(id, 2);
      expect(taken).toEqual(ended.acknowledgements);
      expect(taken?.map((a) => [a.memberId, a.displayName])).toEqual([['a', 'Name a']]);
      // Gone once taken, for every node and every generation.
      expect(await store.takeAcknowledgements(id, 2)).toBeNull();
      expect(await h.nodes[1].takeAcknowledgements(id, null)).toBeNull();
      expect(await store.acknowledgementRecord(id)).toBeNull();
    });

    it('hands it out to any generation when asked without one (the owner key), still once', async () => {
      const id = freshRoomId();
      await store.create(room(id));
      await store.update(id, (s) => ({ ...s, facilitatorLinkGeneration: 5 }));
      await store.end(id, RETENTION_SECONDS);
      expect(await store.takeAcknowledgements(id, null)).toEqual([]);
      expect(await store.takeAcknowledgements(id, null)).toBeNull();
      expect(await store.takeAcknowledgements(id, 5)).toBeNull();
    });

    it('hands it out to one of many asking at once, on both nodes', async () => {
      const id = freshRoomId();
      await store.create(room(id));
      await store.update(id, member('a'));
      await store.update(id, acknowledge((await store.get(id))!, 'a'));
      await store.end(id, RETENTION_SECONDS);
      const takes = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? h.nodes[1] : h.nodes[0]).takeAcknowledgements(id, 0)));
      expect(takes.filter((taken) => taken !== null)).toHaveLength(1);
    });

    it('has nothing to hand out for a live room, a room that never was, or a deleted one', async () => {
      const id = freshRoomId();
      await store.create(room(id));
      expect(await store.takeAcknowledgements(id, 0)).toBeNull();
      expect(await store.get(id)).not.toBeNull();
      await store.delete(id);
      expect(await store.takeAcknowledgements(id, 0)).toBeNull();
      expect(await store.takeAcknowledgements(freshRoomId(), null)).toBeNull();
    });

    it('hands out copies of the record', async () => {
      const id = freshRoomId();
      await store.create(room(id));
      await store.update(id, member('a'));
      await store.update(id, acknowledge((await store.get(id))!, 'a'));
      const record = (await store.end(id, RETENTION_SECONDS))!;
      record.push({ memberId: 'x', displayName: 'x', version: 'v', at: 0 });
      const read = (await store.acknowledgementRecord(id))!;
      expect(read).toHaveLength(1);
      read.pop();
      expect(await store.acknowledgementRecord(id)).toHaveLength(1);
    });
  });

  describe('delete', () => {
    it('removes the room; get is null and update is NOT_FOUND afterwards', async () => {
      const fresh = room(freshRoomId());
      await store.create(fresh);
      await store.delete(fresh.id);
      expect(await store.get(fresh.id)).toBeNull();
      await expectFailure(store.update(fresh.id, member('a')), 'NOT_FOUND');
    });

    it('is a no-op for a room that does not exist', async () => {
      await expect(store.delete(freshRoomId())).resolves.toBeUndefined();
    });

    it('lets the id be created again', async () => {
      const fresh = room(freshRoomId());
      await store.create(fresh);
      await store.update(fresh.id, member('a'));
      await store.delete(fresh.id);
      expect(await store.create(fresh)).toBe(true);
      expect(await store.get(fresh.id)).toEqual(fresh);
    });
  });

  it('ping resolves while the store is reachable', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });

  describe('talk time beside the room', () => {
    it('is kept while the room lives, and goes with the room when it ends or is deleted', async () => {
      const tally = { m1: { speakingMs: 4200, lastSpokeAt: 1234 } };
      const ended = room(freshRoomId());
      await store.create(ended);
      expect(await store.loadTalk(ended.id)).toBeNull();
      const a = await homeOn(h.nodes[0], ended.id, 'a');
      await h.nodes[0].saveTalk(ended.id, tally, a);
      expect(await h.nodes[1].loadTalk(ended.id)).toEqual(tally);
      await store.end(ended.id, RETENTION_SECONDS, a);
      expect(await store.loadTalk(ended.id)).toBeNull();
      // A save arriving after the end writes nothing.
      await store.saveTalk(ended.id, tally, a);
      expect(await store.loadTalk(ended.id)).toBeNull();

      const deleted = room(freshRoomId());
      await store.create(deleted);
      await store.saveTalk(deleted.id, tally, await homeOn(store, deleted.id, 'a'));
      await store.delete(deleted.id);
      expect(await store.loadTalk(deleted.id)).toBeNull();
    });
  });

  describe('homes: leases and fencing', () => {
    const a = { id: 'node-a', name: 'a' };
    const b = { id: 'node-b', name: 'b' };
    const shortLease = 300;

    it('the first live node to claim a room takes it with a fence; another live node is told where it is', async () => {
      const fresh = room(freshRoomId());
      await store.create(fresh);
      await h.nodes[0].renewLease(a, 5000);
      await h.nodes[1].renewLease(b, 5000);
      const [first, second] = await Promise.all([
        h.nodes[0].claimHome(fresh.id, a, { takeLapsed: true }),
        h.nodes[1].claimHome(fresh.id, b, { takeLapsed: true }),
      ]);
      const won = [first, second].filter((c) => c.kind === 'here');
      expect(won, 'exactly one of two racing claims wins').toHaveLength(1);
      expect([first, second].filter((c) => c.kind === 'elsewhere')).toHaveLength(1);
      const home = (await store.get(fresh.id))!.home!;
      expect(home.fence).toBe(1);
      // Claiming again changes nothing (same fence, no write).
      const winner = first.kind === 'here' ? h.nodes[0] : h.nodes[1];
      const node = first.kind === 'here' ? a : b;
      expect(await winner.claimHome(fresh.id, node, { takeLapsed: true })).toEqual({ kind: 'here', fence: { node: node.id, fence: 1 }, taken: false });
      expect(await store.heldRooms(node.id)).toContain(fresh.id);
    });

    it('a node whose own lease lapsed, or a room that does not exist, cannot be claimed', async () => {
      const fresh = room(freshRoomId());
      await store.create(fresh);
      expect(await store.claimHome(fresh.id, { id: 'never-renewed', name: 'x' }, { takeLapsed: true })).toEqual({ kind: 'unleased' });
      await store.renewLease(a, 5000);
      expect(await store.claimHome('no-such-room', a, { takeLapsed: true })).toEqual({ kind: 'missing' });
    });

    it('refuses a write with a stale fence, from a lapsed lease, or without a fence once the room has a home', async () => {
      const fresh = room(freshRoomId());
      await store.create(fresh);
      // Unfenced writes are for rooms nobody serves yet.
      await store.update(fresh.id, member('early'));
      await h.nodes[0].renewLease(a, shortLease);
      const claimA = await h.nodes[0].claimHome(fresh.id, a, { takeLapsed: false });
      expect(claimA.kind).toBe('here');
      const fenceA = (claimA as { fence: Fence }).fence;
      await h.nodes[0].update(fresh.id, member('m1'), fenceA);
      await expect(store.update(fresh.id, member('m2'))).rejects.toBeInstanceOf(LeaseLost);
      // A's lease lapses (it is cut off); B, having had the store all along, takes the room.
      await new Promise((resolve) => setTimeout(resolve, shortLease + 50));
      await expect(h.nodes[0].update(fresh.id, member('m3'), fenceA), 'a lapsed lease cannot write').rejects.toBeInstanceOf(LeaseLost);
      await h.nodes[1].renewLease(b, 5000);
      expect(await h.nodes[1].claimHome(fresh.id, b, { takeLapsed: false })).toEqual({ kind: 'lapsed', name: 'a' });
      const claimB = await h.nodes[1].claimHome(fresh.id, b, { takeLapsed: true });
      expect(claimB).toEqual({ kind: 'here', fence: { node: b.id, fence: 2 }, taken: true });
      expect(await store.heldRooms(a.id)).not.toContain(fresh.id);
      expect(await store.heldRooms(b.id)).toContain(fresh.id);
      // A comes back and renews: its old fence still cannot write, nor save talk time, nor end the room.
      await h.nodes[0].renewLease(a, 5000);
      await expect(h.nodes[0].update(fresh.id, member('m4'), fenceA)).rejects.toBeInstanceOf(LeaseLost);
      await expect(h.nodes[0].saveTalk(fresh.id, { m1: { speakingMs: 1, lastSpokeAt: 1 } }, fenceA)).rejects.toBeInstanceOf(LeaseLost);
      await expect(h.nodes[0].end(fresh.id, RETENTION_SECONDS, fenceA)).rejects.toBeInstanceOf(LeaseLost);
      expect(await h.nodes[0].claimHome(fresh.id, a, { takeLapsed: true })).toMatchObject({ kind: 'elsewhere', name: 'b' });
      const stored = (await store.get(fresh.id))!;
      expect(Object.keys(stored.members).sort()).toEqual(['early', 'm1']);
      // The new home writes with its fence; a change cannot move the home.
      await h.nodes[1].update(fresh.id, (state) => ({ ...member('m5')(state), home: { node: a.id, name: 'a', fence: 99 } }), (claimB as { fence: Fence }).fence);
      expect((await store.get(fresh.id))!.home).toEqual({ node: b.id, name: 'b', fence: 2 });
    });

    it('two live nodes never share a name; a node restarted under its name takes its predecessor\'s rooms at once', async () => {
      const fresh = room(freshRoomId());
      await store.create(fresh);
      const first = { id: `first-${fresh.id}`, name: `n-${fresh.id}`.toLowerCase() };
      await h.nodes[0].renewLease(first, shortLease);
      await h.nodes[0].claimHome(fresh.id, first, { takeLapsed: false });
      const restarted = { id: `second-${fresh.id}`, name: first.name };
      await expect(h.nodes[1].renewLease(restarted, 5000)).rejects.toBeInstanceOf(NameInUse);
      await new Promise((resolve) => setTimeout(resolve, shortLease + 50));
      await h.nodes[1].renewLease(restarted, 5000);
      // Without having had the store for a lease period (takeLapsed false): its own name's rooms.
      expect(await h.nodes[1].claimHome(fresh.id, restarted, { takeLapsed: false })).toEqual({ kind: 'here', fence: { node: restarted.id, fence: 2 }, taken: true });
      // The predecessor, were it only cut off and back, can neither renew under that name nor write.
      await expect(h.nodes[0].renewLease(first, 5000)).rejects.toBeInstanceOf(NameInUse);
    });

    it('findHome tells where a room is without writing: missing, nobody, or its home with the lease it has left', async () => {
      const fresh = room(freshRoomId());
      await store.create(fresh);
      expect(await store.findHome('no-such-room')).toEqual({ kind: 'missing' });
      expect(await store.findHome(fresh.id)).toEqual({ kind: 'none' });
      const before = await store.get(fresh.id);
      expect(await store.findHome(fresh.id)).toEqual({ kind: 'none' });
      expect(await store.get(fresh.id), 'looking took nothing').toEqual(before);
      await h.nodes[0].renewLease(a, shortLease);
      await h.nodes[0].claimHome(fresh.id, a, { takeLapsed: false });
      const seen = await h.nodes[1].findHome(fresh.id);
      expect(seen).toMatchObject({ kind: 'home', node: a.id, name: 'a' });
      expect(seen.kind === 'home' && seen.leaseLeftMs > 0 && seen.leaseLeftMs <= shortLease).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, shortLease + 50));
      expect(await h.nodes[1].findHome(fresh.id)).toEqual({ kind: 'home', node: a.id, name: 'a', leaseLeftMs: 0 });
      await h.nodes[0].releaseHomes(a);
      expect(await store.findHome(fresh.id)).toEqual({ kind: 'none' });
    });

    it('lists the rooms of nodes whose lease lapsed, and releases a stopping node\'s rooms for anyone to take at once', async () => {
      const one = room(freshRoomId());
      const two = room(freshRoomId());
      await store.create(one);
      await store.create(two);
      await h.nodes[0].renewLease(a, shortLease);
      await h.nodes[0].claimHome(one.id, a, { takeLapsed: false });
      await h.nodes[1].renewLease(b, 5000);
      await h.nodes[1].claimHome(two.id, b, { takeLapsed: false });
      expect(await store.lapsedRooms(100)).not.toContain(one.id);
      await new Promise((resolve) => setTimeout(resolve, shortLease + 50));
      const lapsed = await store.lapsedRooms(100);
      expect(lapsed).toContain(one.id);
      expect(lapsed).not.toContain(two.id);
      await h.nodes[1].releaseHomes(b);
      expect((await store.get(two.id))!.home ?? null).toBeNull();
      expect(await store.lapsedRooms(100), 'a released room is listed for others to take').toContain(two.id);
      await h.nodes[0].renewLease(a, 5000);
      expect((await h.nodes[0].claimHome(two.id, a, { takeLapsed: false })).kind).toBe('here');
    });
  });

  describe('the bound on live rooms (MAX_ROOMS)', () => {
    it('lets exactly the bound through when creations race on two nodes; ending or deleting a room makes a place', async () => {
      // Its own prefix's worth of rooms: other tests' rooms in this run do not count here.
      await h.close();
      await deleteTestKeys();
      h = await make(fixedTtl(TTL_SECONDS), 5);
      store = h.store;
      const ids = Array.from({ length: 20 }, () => freshRoomId());
      const results = await Promise.allSettled(ids.map((id, i) => h.nodes[i % 2]!.create(room(id))));
      const created = ids.filter((_, i) => results[i]!.status === 'fulfilled');
      expect(created).toHaveLength(5);
      for (const result of results) {
        if (result.status === 'rejected') expect((result.reason as ProtocolFailure).code).toBe('UNAVAILABLE');
      }
      await expectFailure(store.create(room(freshRoomId())), 'UNAVAILABLE');
      await store.end(created[0]!, RETENTION_SECONDS);
      await expect(h.nodes[1].create(room('after-end-' + freshRoomId()))).resolves.toBe(true);
      await store.delete(created[1]!);
      await expect(h.nodes[0].create(room('after-delete-' + freshRoomId()))).resolves.toBe(true);
      await expectFailure(store.create(room(freshRoomId())), 'UNAVAILABLE');
    });

    it('does not count rooms whose state has expired', async () => {
      await h.close();
      await deleteTestKeys();
      h = await make(fixedTtl(1), 2);
      store = h.store;
      await store.create(room(freshRoomId()));
      await store.create(room(freshRoomId()));
      await expectFailure(store.create(room(freshRoomId())), 'UNAVAILABLE');
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await expect(store.create(room(freshRoomId()))).resolves.toBe(true);
    });
  });

  describe('concurrency', () => {
    it('loses no update when 20 members enter at once through two nodes', async () => {
      const fresh = room(freshRoomId(), 50);
      await store.create(fresh);
      const ids = Array.from({ length: 20 }, (_, i) => `m${i}`);
      const results = await Promise.allSettled(ids.map((id, i) => h.nodes[i % 2]!.update(fresh.id, member(id))));
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      const final = (await store.get(fresh.id))!;
      expect(Object.keys(final.members).sort()).toEqual([...ids].sort());
      expect(final.version).toBe(20);
      // Every stored version was returned to exactly one writer.
      const versions = results.map((r) => (r.status === 'fulfilled' ? r.value.version : -1)).sort((x, y) => x - y);
      expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it('never exceeds capacity when 30 race for 16 places', async () => {
      const fresh = room(freshRoomId(), 16);
      await store.create(fresh);
      const ids = Array.from({ length: 30 }, (_, i) => `r${i}`);
      const results = await Promise.allSettled(ids.map((id, i) => h.nodes[i % 2]!.update(fresh.id, member(id))));
      const entered = ids.filter((_, i) => results[i]!.status === 'fulfilled');
      const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      expect(entered).toHaveLength(16);
      expect(refused).toHaveLength(14);
      for (const reason of refused) {
        expect(reason).toBeInstanceOf(ProtocolFailure);
        expect((reason as ProtocolFailure).code).toBe('ROOM_FULL');
      }
      const final = (await store.get(fresh.id))!;
      expect(memberCount(final)).toBe(16);
      expect(Object.keys(final.members).sort()).toEqual([...entered].sort());
      expect(final.version).toBe(16);
    });

    it('keeps concurrent entries and leaves consistent', async () => {
      const fresh = room(freshRoomId(), 50);
      await store.create(fresh);
      const stay = Array.from({ length: 10 }, (_, i) => `s${i}`);
      const go = Array.from({ length: 10 }, (_, i) => `g${i}`);
      for (const id of go) await store.update(fresh.id, member(id));
      await Promise.all([
        ...stay.map((id, i) => h.nodes[i % 2]!.update(fresh.id, member(id))),
        ...go.map((id, i) => h.nodes[(i + 1) % 2]!.update(fresh.id, leave(id))),
      ]);
      const final = (await store.get(fresh.id))!;
      expect(Object.keys(final.members).sort()).toEqual([...stay].sort());
      expect(final.version).toBe(30);
    });
  });
});

describe('roomTtl and fixedTtl', () => {
  const at = (endsAt: number) => ({ ...room('ttl-room-000'), session: { startsAt: 0, endsAt, warnMinutes: 5 } });

  it('is the time to the session end plus the grace, rounded up to whole seconds', () => {
    const now = () => 1_000_000;
    expect(roomTtl(600, now)(at(1_000_000 + 7200_000))).toBe(7200 + 600);
    expect(roomTtl(600, now)(at(1_000_000 + 7200_001))).toBe(7201 + 600);
    expect(roomTtl(3600, now)(at(1_000_000))).toBe(3600);
  });

  it('is at least a minute, even long after the session ended', () => {
    const now = () => 10_000_000;
    expect(roomTtl(0, now)(at(10_000_000))).toBe(60);
    expect(roomTtl(30, now)(at(10_000_000 - 3600_000))).toBe(60);
    expect(roomTtl(59, now)(at(10_000_000))).toBe(60);
    expect(roomTtl(61, now)(at(10_000_000))).toBe(61);
  });

  it('reads the clock at every call', () => {
    let clock = 0;
    const ttl = roomTtl(100, () => clock);
    const state = at(1000_000);
    expect(ttl(state)).toBe(1100);
    clock = 500_000;
    expect(ttl(state)).toBe(600);
  });

  it('fixedTtl ignores the state', () => {
    expect(fixedTtl(42)(at(0))).toBe(42);
    expect(fixedTtl(42)(at(Number.MAX_SAFE_INTEGER))).toBe(42);
  });
});

describe('MemoryRoomStore expiry', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('forgets a room TTL seconds after its last write, and each write renews it', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const store = new MemoryRoomStore(fixedTtl(60));
    const fresh = room(freshRoomId());
    await store.create(fresh);
    vi.setSystemTime(1_000_000 + 59_000);
    await store.update(fresh.id, member('a'));
    vi.setSystemTime(1_000_000 + 59_000 + 59_000);
    expect(await store.get(fresh.id)).not.toBeNull();
    vi.setSystemTime(1_000_000 + 59_000 + 60_000);
    expect(await store.get(fresh.id)).toBeNull();
    await expectFailure(store.update(fresh.id, leave('a')), 'NOT_FOUND');
    // An expired id may be created again.
    expect(await store.create(fresh)).toBe(true);
  });

  it('drops expired rooms and acknowledgement records from memory without anyone reading them (the sweeper lists rooms every few seconds)', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const store = new MemoryRoomStore(fixedTtl(60));
    const ended = room(freshRoomId());
    const live = room(freshRoomId());
    await store.create(ended);
    await store.create(live);
    await store.end(ended.id, 120);
    expect(store.held).toEqual({ rooms: 1, records: 1 });
    vi.setSystemTime(1_000_000 + 60_000);
    expect(await store.roomIds()).toEqual([]);
    expect(store.held).toEqual({ rooms: 0, records: 1 });
    vi.setSystemTime(1_000_000 + 120_000);
    await store.roomIds();
    expect(store.held).toEqual({ rooms: 0, records: 0 });
  });

  it('with roomTtl, keeps a room until its session end plus the grace, however often it is written', async () => {
    const start = 1_700_000_000_000;
    vi.useFakeTimers({ now: start });
    const store = new MemoryRoomStore(roomTtl(600));
    const fresh = room(freshRoomId(), 16, start, start, 60); // ends at start + 1 h
    await store.create(fresh);
    vi.setSystemTime(start + 30 * 60_000);
    await store.update(fresh.id, member('a'));
    vi.setSystemTime(start + 59 * 60_000);
    await store.update(fresh.id, member('b'));
    vi.setSystemTime(start + 3600_000 + 600_000 - 1);
    expect(await store.get(fresh.id)).not.toBeNull();
    vi.setSystemTime(start + 3600_000 + 600_000);
    expect(await store.get(fresh.id)).toBeNull();
  });

  it('keeps a write after the session end alive for at least a minute', async () => {
    const start = 1_700_000_000_000;
    vi.useFakeTimers({ now: start });
    const store = new MemoryRoomStore(roomTtl(0));
    const fresh = room(freshRoomId(), 16, start, start - 3 * 3600_000, 60); // ended two hours ago
    await store.create(fresh);
    vi.setSystemTime(start + 59_999);
    expect(await store.get(fresh.id)).not.toBeNull();
    vi.setSystemTime(start + 60_000);
    expect(await store.get(fresh.id)).toBeNull();
  });

  it('keeps the acknowledgement record for the retention period', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const store = new MemoryRoomStore(fixedTtl(60));
    const fresh = room(freshRoomId());
    await store.create(fresh);
    expect(await store.end(fresh.id, 3600)).toEqual([]);
    vi.setSystemTime(1_000_000 + 3600_000 - 1);
    expect(await store.acknowledgementRecord(fresh.id)).toEqual([]);
    vi.setSystemTime(1_000_000 + 3600_000);
    expect(await store.acknowledgementRecord(fresh.id)).toBeNull();
    expect(await store.takeAcknowledgements(fresh.id, null)).toBeNull();
  });
});

describe('RedisRoomStore keys and TTLs', () => {
  let store: RedisRoomStore;
  afterEach(async () => {
    await store.close();
  });

  it('keeps a room under <prefix>room:<id> as a hash of version and doc', async () => {
    store = await RedisRoomStore.connect({ url: REDIS_URL, prefix, ttl: fixedTtl(TTL_SECONDS), log: quiet });
    const fresh = room(freshRoomId());
    await store.create(fresh);
    await store.update(fresh.id, member('a'));
    expect(store.key(fresh.id)).toBe(`${prefix}room:${fresh.id}`);
    const hash = await redis.hGetAll(store.key(fresh.id));
    expect(hash['version']).toBe('1');
    expect(JSON.parse(hash['doc']!)).toEqual(await store.get(fresh.id));
    // The home lives in fields of its own, which only claims and releases write.
    await store.renewLease({ id: 'node-1', name: 'a' }, 5000);
    await store.claimHome(fresh.id, { id: 'node-1', name: 'a' }, { takeLapsed: false });
    expect(await redis.hmGet(store.key(fresh.id), ['home', 'homeName', 'fence'])).toEqual(['node-1', 'a', '1']);
    expect(JSON.parse((await redis.hGet(store.key(fresh.id), 'doc'))!)).not.toHaveProperty('home');
  });

  it('sets a TTL on create within the configured TTL, and refreshes it on every write', async () => {
    store = await RedisRoomStore.connect({ url: REDIS_URL, prefix, ttl: fixedTtl(TTL_SECONDS), log: quiet });
    const fresh = room(freshRoomId());
    await store.create(fresh);
    const ttl = await redis.ttl(store.key(fresh.id));
    expect(ttl).toBeGreaterThan(TTL_SECONDS - 5);
    expect(ttl).toBeLessThanOrEqual(TTL_SECONDS);
    await redis.expire(store.key(fresh.id), 5);
    await store.update(fresh.id, member('a'));
    const refreshed = await redis.ttl(store.key(fresh.id));
    expect(refreshed).toBeGreaterThan(TTL_SECONDS - 5);
    expect(refreshed).toBeLessThanOrEqual(TTL_SECONDS);
  });

  it('does not refresh the TTL for an update that changes nothing', async () => {
    store = await RedisRoomStore.connect({ url: REDIS_URL, prefix, ttl: fixedTtl(TTL_SECONDS), log: quiet });
    const fresh = room(freshRoomId());
    await store.create(fresh);
    await redis.expire(store.key(fresh.id), 100);
    await store.update(fresh.id, leave('nobody'));
    expect(await redis.ttl(store.key(fresh.id))).toBeLessThanOrEqual(100);
  });

  it('with roomTtl, expires a room at its session end plus the grace', async () => {
    store = await RedisRoomStore.connect({ url: REDIS_URL, prefix, ttl: roomTtl(600), log: quiet });
    const now = Date.now();
    const fresh = room(freshRoomId(), 16, now, now, 120); // ends in two hours
    await store.create(fresh);
    const expected = 2 * 3600 + 600;
    const ttl = await redis.ttl(store.key(fresh.id));
    expect(ttl).toBeGreaterThan(expected - 5);
    expect(ttl).toBeLessThanOrEqual(expected);
    await store.update(fresh.id, member('a'));
    const after = await redis.ttl(store.key(fresh.id));
    expect(after).toBeGreaterThan(expected - 5);
    expect(after).toBeLessThanOrEqual(expected);

    const over = room(freshRoomId(), 16, now, now - 5 * 3600_000, 60); // ended four hours ago
    await store.create(over);
    expect(await redis.ttl(store.key(over.id))).toBeLessThanOrEqual(60);
    expect(await redis.ttl(store.key(over.id))).toBeGreaterThan(55);
  });

  it('end deletes the room key and keeps <prefix>acknowledgements:<id> with a TTL of at most the retention', async () => {
    store = await RedisRoomStore.connect({ url: REDIS_URL, prefix, ttl: fixedTtl(TTL_SECONDS), log: quiet });
    const fresh = room(freshRoomId());
    await store.create(fresh);
    await store.update(fresh.id, member('a'));
    await store.update(fresh.id, acknowledge(fresh, 'a'));
    const record = await store.end(fresh.id, 1234);
    expect(store.recordKey(fresh.id)).toBe(`${prefix}acknowledgements:${fresh.id}`);
    expect(await redis.exists(store.key(fresh.id))).toBe(0);
    expect(await redis.exists(store.recordKey(fresh.id))).toBe(1);
    const ttl = await redis.ttl(store.recordKey(fresh.id));
    expect(ttl).toBeGreaterThan(1234 - 5);
    expect(ttl).toBeLessThanOrEqual(1234);
    expect(JSON.parse((await redis.get(store.recordKey(fresh.id)))!)).toEqual({ acknowledgements: record, facilitatorLinkGeneration: 0 });
    // Nothing else of the room is left under the prefix.
    const keys: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: `${prefix}*${fresh.id}` })) keys.push(...batch);
    expect(keys).toEqual([store.recordKey(fresh.id)]);
    // Taking it deletes the key.
    expect(await store.takeAcknowledgements(fresh.id, 0)).toEqual(record);
    expect(await redis.exists(store.recordKey(fresh.id))).toBe(0);
  });

  it('takes a record kept before records had a generation (a bare list) as of generation 0', async () => {
    store = await RedisRoomStore.connect({ url: REDIS_URL, prefix, ttl: fixedTtl(TTL_SECONDS), log: quiet });
    const id = freshRoomId();
    const old = [{ memberId: 'a', displayName: 'Name a', version: 'v1', at: 7 }];
    await redis.set(store.recordKey(id), JSON.stringify(old), { EX: 60 });
    expect(await store.acknowledgementRecord(id)).toEqual(old);
    expect(await store.takeAcknowledgements(id, 1)).toBeNull();
    expect(await store.takeAcknowledgements(id, 0)).toEqual(old);
    expect(await redis.exists(store.recordKey(id))).toBe(0);
  });
});
