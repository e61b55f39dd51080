import type { ErrorCode, Result } from '@group-room/shared';
import type { RunOptions, SignalServer } from '@group-room/signal';
import { describe, expect, it } from 'vitest';
import {
  admittedMember,
  expectError,
  mediaJoin,
  ok,
  openRoom,
  plainOpus,
  request,
  useServer,
  type CommandInput,
  type Person,
  tryCommand,
  viewWhere,
  watchMedia,
} from '../support/signal-client.js';

/*
 * One client as an attacker would drive it: bursts of the same media request, and floods of
 * room commands, against a real signal server. Every request gets a typed answer, the
 * server's per-person resources stay at what one person needs, a flood costs the room's
 * queue nothing (refused commands) or only the flooding connection's own small share
 * (allowed ones), and the facilitator's mute still goes through.
 */

/** Each socket's request rate is counted per second: wait for a fresh second between bursts. */
const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1100));

/** How many answers carry each outcome (`ok` or an error code). */
function outcomes(results: Result<unknown>[]): Partial<Record<ErrorCode | 'ok', number>> {
  const counts: Partial<Record<ErrorCode | 'ok', number>> = {};
  for (const result of results) {
    const key = result.ok ? 'ok' : result.error.code;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/**
 * Count the room's queue: how many tasks were queued for `roomId`, the most that were
 * waiting or running at once, and the longest any waited for its turn (on the server).
 */
function watchQueue(server: SignalServer, roomId: string) {
  const queue = server.rooms.get(roomId)!.queue;
  const run = queue.run.bind(queue);
  const counts = { queued: 0, pending: 0, maxPending: 0, maxWaitMs: 0 };
  queue.run = <T>(task: () => Promise<T>, options?: RunOptions): Promise<T> => {
    counts.queued++;
    counts.pending++;
    counts.maxPending = Math.max(counts.maxPending, counts.pending);
    const queuedAt = performance.now();
    const done = run(() => {
      counts.maxWaitMs = Math.max(counts.maxWaitMs, performance.now() - queuedAt);
      return task();
    }, options);
    void done.then(
      () => counts.pending--,
      () => counts.pending--,
    );
    return done;
  };
  return { counts, restore: () => void (queue.run = run) };
}

describe('limits against one abusive client', () => {
  const t = useServer();

  describe('per person: one send and one receive transport, one producer per source', () => {
    it('200 concurrent transport:create per direction make one transport; 50 concurrent mic producers make one', async () => {
      const { roomId, facilitator: fay } = await openRoom(t.server);
      const capabilities = await mediaJoin(fay);
      const media = watchMedia(t.server, roomId);
      const live = () => [...media.transports.values()].filter((transport) => !transport.closed);

      const made: Record<string, string> = {};
      for (const direction of ['send', 'recv'] as const) {
        const results = await Promise.all(Array.from({ length: 200 }, () => request(fay.socket, 'transport:create', { direction })));
        const counts = outcomes(results);
        // Exactly one is made; the rest are refused, most as "already exists" (the socket's
        // own request limits may refuse some first).
        expect(counts.ok, JSON.stringify(counts)).toBe(1);
        expect(counts.INVALID_STATE ?? 0).toBeGreaterThan(0);
        expect((counts.INVALID_STATE ?? 0) + (counts.RATE_LIMITED ?? 0)).toBe(199);
        const created = results.find((r) => r.ok);
        if (created?.ok) made[direction] = created.data.id;
        await nextSecond();
      }
      // The server holds exactly what the answers say: one transport per direction.
      expect(live().map((transport) => [transport.appData['direction'], transport.id]).sort()).toEqual(
        [
          ['recv', made['recv']],
          ['send', made['send']],
        ].sort(),
      );

      const sendId = made['send']!;
      const produced = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          request(fay.socket, 'media:produce', { transportId: sendId, kind: 'audio', source: 'mic', rtpParameters: plainOpus(70_000 + i) }),
        ),
      );
      const counts = outcomes(produced);
      expect(counts.ok, JSON.stringify(counts)).toBe(1);
      expect((counts.INVALID_STATE ?? 0) + (counts.RATE_LIMITED ?? 0)).toBe(49);
      expect(counts.INVALID_STATE ?? 0).toBeGreaterThan(0);
      expect([...media.producers.values()].filter((producer) => !producer.closed)).toHaveLength(1);

      // The process is fine: the same person goes on setting up media.
      await nextSecond();
      await ok(fay.socket, 'media:ready', { rtpCapabilities: capabilities });
      const again = await request(fay.socket, 'media:produce', { transportId: sendId, kind: 'audio', source: 'mic', rtpParameters: plainOpus(80_000) });
      expectError(again, 'INVALID_STATE');
      expect(live()).toHaveLength(2);
    });
  });

  describe('per socket and per room: a flood does not hold up the facilitator', () => {
    /** A facilitator, a member who floods, and a member the facilitator mutes. */
    async function room() {
      const links = await openRoom(t.server);
      const fay = links.facilitator;
      const mo = await admittedMember(t.server, links, fay, 'Mo');
      const bea = await admittedMember(t.server, links, fay, 'Bea');
      return { roomId: links.roomId, fay, mo, bea };
    }

    /** Send `count` commands from one socket as fast as it can, all at once; resolves with every answer. */
    const flood = (person: Person, count: number, command: (i: number) => CommandInput) =>
      Promise.all(Array.from({ length: count }, (_, i) => tryCommand(person, command(i))));

    /** The facilitator mutes Bea while the flood is under way: it is acknowledged. */
    async function muteDuringFlood(fay: Person, bea: Person) {
      // Let the flood start arriving first.
      await new Promise((resolve) => setImmediate(resolve));
      const start = performance.now();
      await ok(fay.socket, 'room:command', { command: { type: 'member.mute', memberId: bea.id, source: 'mic' } });
      return performance.now() - start;
    }

    it('2,000 commands a member may not send cost the room queue nothing; the facilitator\'s mute goes through', async () => {
      const { roomId, fay, mo, bea } = await room();
      const queue = watchQueue(t.server, roomId);
      try {
        const [answers, muteMs] = await Promise.all([
          flood(mo, 2000, () => ({ type: 'member.mute', memberId: bea.id, source: 'mic' })),
          muteDuringFlood(fay, bea),
        ]);
        console.warn(`a flood of refused commands: the facilitator's mute took ${muteMs.toFixed(1)} ms (round trip, clients in this process); its longest wait in the room queue ${queue.counts.maxWaitMs.toFixed(1)} ms`);
        // Every request has a typed answer: refused by the table, or by the socket's rate.
        const counts = outcomes(answers);
        expect(answers).toHaveLength(2000);
        expect(Object.keys(counts).sort(), JSON.stringify(counts)).toEqual(['FORBIDDEN', 'RATE_LIMITED']);
        // Nothing refused waited in the room's queue: the only task is the facilitator's mute.
        expect(queue.counts.queued).toBe(1);
      } finally {
        queue.restore();
      }
      await viewWhere(bea, (v) => v.self.held.mic !== null);
      // The server is up and Mo's socket is served again once the second is over.
      await nextSecond();
      expectError(await tryCommand(mo, { type: 'member.mute', memberId: bea.id, source: 'mic' }), 'FORBIDDEN');
      expect((await fetch(`${t.server.url}/healthz`)).status).toBe(200);
    });

    it('2,000 commands a member may send hold only a few places in the room queue; the facilitator\'s mute goes through', async () => {
      const { roomId, fay, mo, bea } = await room();
      const queue = watchQueue(t.server, roomId);
      try {
        const [answers, muteMs] = await Promise.all([
          flood(mo, 2000, (i) => ({ type: i % 2 === 0 ? 'hand.raise' : 'hand.lower' })),
          muteDuringFlood(fay, bea),
        ]);
        console.warn(`a flood of allowed commands: the facilitator's mute took ${muteMs.toFixed(1)} ms (round trip, clients in this process); the longest wait in the room queue ${queue.counts.maxWaitMs.toFixed(1)} ms`);
        const counts = outcomes(answers);
        expect(answers).toHaveLength(2000);
        // Allowed ones are applied (or refused by the floor's rules); the rest are over the socket's limits.
        expect(Object.keys(counts).every((k) => ['ok', 'INVALID_STATE', 'RATE_LIMITED'].includes(k)), JSON.stringify(counts)).toBe(true);
        expect(counts.RATE_LIMITED ?? 0).toBeGreaterThan(0);
        // One connection never has more than a few changes waiting in its room's queue.
        expect(queue.counts.maxPending, JSON.stringify(queue.counts)).toBeLessThanOrEqual(10);
      } finally {
        queue.restore();
      }
      await viewWhere(bea, (v) => v.self.held.mic !== null);
      expect((await fetch(`${t.server.url}/healthz`)).status).toBe(200);
    });
  });
});
