import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { enter } from '../room/entry.js';
import { disconnectSeat } from '../room/seats.js';
import { newRoom, type RoomChange } from '../room/state.js';
import { MemoryRoomStore } from '../store/memory-room-store.js';
import { fixedTtl } from '../store/room-store.js';
import { NODE_TTL_MS, SeatSweeper } from './seat-sweeper.js';

const T = Date.now();
const GRACE = 120_000;
const quiet = createLogger('error', () => undefined);

async function setUp() {
  const store = new MemoryRoomStore(fixedTtl(3600));
  const room = newRoom({ id: 'sweep-room', capacity: 8, title: '', agreement: 'Be kind.', startsAt: T, durationMinutes: 90 }, T);
  await store.create(room);
  const seat = (id: string, node: string): RoomChange =>
    enter({ id, displayName: id, role: 'facilitator', inviteId: null, connection: { connectionId: `${id}@0`, node, resumeNonce: `${id}#0` } }, T);
  await store.update(room.id, seat('here', 'node-a'));
  await store.update(room.id, seat('there', 'node-b'));
  const applied: string[] = [];
  const open = new Set(['here@0']);
  const sweeper = (nodeId: string) =>
    new SeatSweeper({
      store,
      nodeId,
      graceMs: GRACE,
      connections: () => open,
      apply: (roomId, change) => {
        applied.push(roomId);
        return store.update(roomId, change);
      },
      log: quiet,
    });
  return { store, roomId: room.id, applied, open, sweeper };
}

describe('SeatSweeper', () => {
  it('says this node is alive, and queues no change while every seat is as it should be', async () => {
    const { store, applied, sweeper } = await setUp();
    const a = sweeper('node-a');
    await a.start();
    await store.heartbeat('node-b', NODE_TTL_MS);
    await a.sweep();
    expect([...(await store.liveNodes())].sort()).toEqual(['node-a', 'node-b']);
    expect(applied).toEqual([]);
    await a.stop({ forget: true });
    expect([...(await store.liveNodes())]).toEqual(['node-b']);
  });

  it("marks away the seats of a node that stopped saying it is alive, then frees them after the grace period", async () => {
    const { store, roomId, sweeper } = await setUp();
    const a = sweeper('node-a');
    await a.start(); // node-b never renews: it is dead
    await a.sweep(T + 1000);
    expect((await store.get(roomId))!.members['there']).toMatchObject({ connectionId: null, offlineSince: T + 1000 });
    expect((await store.get(roomId))!.members['here']!.connectionId).toBe('here@0');
    await a.sweep(T + 1000 + GRACE);
    expect(Object.keys((await store.get(roomId))!.members)).toEqual(['here']);
    await a.stop({ forget: false });
  });

  it('marks away a seat whose connection closed on this node without it being stored', async () => {
    const { store, roomId, open, sweeper } = await setUp();
    await store.heartbeat('node-b', NODE_TTL_MS);
    const a = sweeper('node-a');
    await a.start();
    open.delete('here@0');
    await a.sweep(T + 5);
    expect((await store.get(roomId))!.members['here']).toMatchObject({ connectionId: null, offlineSince: T + 5 });
    // Already away: a later disconnect from that connection changes nothing.
    expect(disconnectSeat('here', 'here@0', T + 6)((await store.get(roomId))!)).toEqual(await store.get(roomId));
    await a.stop({ forget: true });
  });
});
