import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import type { WorkerPool } from '../media/worker-pool.js';
import { enter } from '../room/entry.js';
import { sweepSeats } from '../room/seats.js';
import { newRoom, type RoomChange } from '../room/state.js';
import { MemoryRoomStore } from '../store/memory-room-store.js';
import { fixedTtl, type NodeIdentity, type RoomStore } from '../store/room-store.js';
import { LiveRooms } from './live-rooms.js';
import { NodeLease } from './node-lease.js';
import { SeatSweeper } from './seat-sweeper.js';
import { ViewBatcher } from './view-batcher.js';

/*
 * The seat sweeper over the in-memory store, with real leases (short ones) and live rooms
 * without media (no router is ever opened here, so no worker pool is needed).
 */

const T = Date.now();
const GRACE = 120_000;
const quiet = createLogger('error', () => undefined);
const noPool = undefined as unknown as WorkerPool;
const stops: (() => unknown)[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** A store that counts which rooms were read. */
function counting(store: MemoryRoomStore): { store: RoomStore; reads: string[] } {
  const reads: string[] = [];
  const counted = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property === 'get' && typeof value === 'function') {
        return (roomId: string) => {
          reads.push(roomId);
          return (value as (id: string) => unknown).call(target, roomId);
        };
      }
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: counted, reads };
}

async function node(store: RoomStore, identity: NodeIdentity, open = new Set<string>(), leaseMs = 5000) {
  const lease = new NodeLease(store, identity, { log: quiet, leaseMs, renewEveryMs: Math.min(1000, leaseMs / 5), marginMs: leaseMs / 5, onLost: () => rooms.closeAll('released') });
  const rooms = new LiveRooms(store, identity, lease, { store, pool: noPool, config: { ACK_RETENTION_SECONDS: 60 }, log: quiet, batcher: new ViewBatcher(() => undefined), leaseValid: () => lease.valid() });
  await lease.start();
  const sweeper = new SeatSweeper({ store, rooms, lease, graceMs: GRACE, connections: () => open, log: quiet });
  stops.push(() => lease.stop(), () => rooms.closeAll('stopping'));
  return { lease, rooms, sweeper };
}

const seat = (id: string, node: string): RoomChange =>
  enter({ id, displayName: id, role: 'facilitator', inviteId: null, connection: { connectionId: `${id}@0`, node, resumeNonce: `${id}#0` } }, T);

async function makeRoom(store: RoomStore, id: string) {
  await store.create(newRoom({ id, capacity: 8, title: '', agreement: 'Be kind.', startsAt: T, durationMinutes: 90 }, T));
}

describe('SeatSweeper', () => {
  it('reads only the rooms this node holds, however many rooms other nodes hold', async () => {
    const memory = new MemoryRoomStore(fixedTtl(3600));
    const { store, reads } = counting(memory);
    const a = await node(store, { id: 'node-a', name: 'a' });
    const b = await node(store, { id: 'node-b', name: 'b' });
    for (let i = 0; i < 50; i++) {
      await makeRoom(store, `b-room-${i}`);
      await b.rooms.claim(`b-room-${i}`);
    }
    await makeRoom(store, 'a-room');
    await a.rooms.claim('a-room');
    reads.length = 0;
    await a.sweeper.sweep();
    expect(new Set(reads)).toEqual(new Set(['a-room']));
  });

  it('marks away the seats held through another node, then frees them after the grace period; queues nothing while all is as it should be', async () => {
    const store = new MemoryRoomStore(fixedTtl(3600));
    await makeRoom(store, 'sweep-room');
    await store.update('sweep-room', seat('here', 'node-a'));
    await store.update('sweep-room', seat('there', 'node-b')); // served through a node that died before this one took the room
    const a = await node(store, { id: 'node-a', name: 'a' }, new Set(['here@0']));
    const room = await a.rooms.home('sweep-room');
    await a.sweeper.sweep(T + 1000);
    expect((await store.get('sweep-room'))!.members['there']).toMatchObject({ connectionId: null, offlineSince: T + 1000 });
    expect((await store.get('sweep-room'))!.members['here']!.connectionId).toBe('here@0');
    const version = (await store.get('sweep-room'))!.version;
    await a.sweeper.sweep(T + 2000);
    expect((await store.get('sweep-room'))!.version, 'nothing to do: nothing written').toBe(version);
    await a.sweeper.sweep(T + 1000 + GRACE);
    expect(Object.keys((await store.get('sweep-room'))!.members)).toEqual(['here']);
    expect(room.acting).toBe(true);
  });

  it("takes up a room whose home's lease lapsed only once it has had the store for a whole lease period", async () => {
    const store = new MemoryRoomStore(fixedTtl(3600));
    await makeRoom(store, 'orphan');
    // A node that took the room and then died (its lease is never renewed after 200 ms).
    await store.renewLease({ id: 'dead', name: 'd' }, 200);
    await store.claimHome('orphan', { id: 'dead', name: 'd' }, { takeLapsed: false });
    const a = await node(store, { id: 'node-a', name: 'a' }, new Set(), 1000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await a.sweeper.sweep();
    expect((await store.get('orphan'))!.home?.node, 'not steady yet: the dead node might only be cut off').toBe('dead');
    await new Promise((resolve) => setTimeout(resolve, 900));
    expect(a.lease.steady()).toBe(true);
    await a.sweeper.sweep();
    expect((await store.get('orphan'))!.home).toEqual({ node: 'node-a', name: 'a', fence: 2 });
    expect(a.rooms.get('orphan')?.acting).toBe(true);
  });

  it('a sweep decided before another node took the room is refused, and nobody live there is marked away or removed', async () => {
    const store = new MemoryRoomStore(fixedTtl(3600));
    await makeRoom(store, 'raced');
    const a = await node(store, { id: 'node-a', name: 'a' }, new Set(['old@0']), 600);
    const roomA = await a.rooms.home('raced');
    await roomA.queued(seat('old', 'node-a'));
    // A is cut off: it stops renewing; its lease lapses and B (steady) takes the room, and a
    // member takes a seat through B.
    a.lease.stop();
    await new Promise((resolve) => setTimeout(resolve, 700));
    const b = await node(store, { id: 'node-b', name: 'b' }, new Set(['new@0']), 300);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const roomB = await b.rooms.home('raced');
    await roomB.queued(seat('new', 'node-b'));
    // A's sweep, decided from its own view (in which node-b is not live), arrives now.
    const stale = sweepSeats({ now: Date.now() + GRACE * 2, graceMs: GRACE, liveNodes: new Set(['node-a']) });
    await expect(store.update('raced', stale, roomA.fence)).rejects.toThrow(/another server/);
    const stored = (await store.get('raced'))!;
    expect(stored.members['new']!.connectionId).toBe('new@0');
    expect(Object.keys(stored.members).sort()).toEqual(['new', 'old']);
  });
});
