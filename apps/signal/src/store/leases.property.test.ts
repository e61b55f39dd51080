import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { enter } from '../room/entry.js';
import { newRoom } from '../room/state.js';
import { MemoryRoomStore } from './memory-room-store.js';
import { fixedTtl, LeaseLost, NameInUse, type Fence, type NodeIdentity } from './room-store.js';

/*
 * Leases and fencing as properties: any interleaving of renewals, clock steps, claims and
 * writes by three nodes (the third a restart of the first, under the same name) keeps a room
 * written by one holder at a time. Checked against the in-memory store on a fake clock (the
 * Redis store passes the same contract cases in room-store.contract.test.ts).
 */

const NODES: NodeIdentity[] = [
  { id: 'n0', name: 'a' },
  { id: 'n1', name: 'b' },
  { id: 'n2', name: 'a' }, // n0 restarted under the same name
];
const LEASE = 1000;
const T0 = 1_700_000_000_000;

type Step =
  | { kind: 'renew'; node: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'claim'; node: number; takeLapsed: boolean }
  | { kind: 'write'; node: number };

const node = fc.integer({ min: 0, max: NODES.length - 1 });
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('renew' as const), node }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 1500 }) }),
  fc.record({ kind: fc.constant('claim' as const), node, takeLapsed: fc.boolean() }),
  fc.record({ kind: fc.constant('write' as const), node }),
);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('leases and fencing (property)', () => {
  it('one writer at a time; fences only grow; a live lease is never taken by another name; a stale fence never writes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (steps) => {
        vi.setSystemTime(T0);
        const store = new MemoryRoomStore(fixedTtl(3600));
        await store.create(newRoom({ id: 'r', capacity: 16, title: '', agreement: 'Be kind.', startsAt: T0, durationMinutes: 90 }, T0));
        const leaseUntil = NODES.map(() => 0);
        const nameHolder = new Map<string, number>();
        const fences: (Fence | undefined)[] = NODES.map(() => undefined);
        let lastFence = 0;
        let writes = 0;
        const live = (i: number) => leaseUntil[i]! > Date.now();
        for (const s of steps) {
          if (s.kind === 'advance') {
            vi.setSystemTime(Date.now() + s.ms);
            continue;
          }
          const me = NODES[s.node]!;
          const before = (await store.get('r'))!.home ?? null;
          const holder = before ? NODES.findIndex((n) => n.id === before.node) : -1;
          if (s.kind === 'renew') {
            // A name is held by one live node at a time: a restart waits for its predecessor's lease.
            const namesake = NODES.findIndex((n, i) => i !== s.node && n.name === me.name && live(i) && nameHolder.get(me.name) === i);
            const renewal = store.renewLease(me, LEASE);
            if (namesake >= 0) {
              await expect(renewal).rejects.toBeInstanceOf(NameInUse);
              continue;
            }
            await renewal;
            nameHolder.set(me.name, s.node);
            leaseUntil[s.node] = Date.now() + LEASE;
          } else if (s.kind === 'claim') {
            const claim = await store.claimHome('r', me, { takeLapsed: s.takeLapsed });
            const after = (await store.get('r'))!.home ?? null;
            if (claim.kind === 'here') {
              fences[s.node] = claim.fence;
              expect(after).toEqual({ node: me.id, name: me.name, fence: claim.fence.fence });
              if (claim.taken) {
                expect(claim.fence.fence, 'a new fence is always greater').toBeGreaterThan(lastFence);
                // Taken from another name only once its lease lapsed, and then only when asked to.
                if (holder >= 0 && NODES[holder]!.name !== me.name) {
                  expect(live(holder)).toBe(false);
                  expect(s.takeLapsed).toBe(true);
                }
              }
              lastFence = Math.max(lastFence, claim.fence.fence);
            } else {
              expect(after, 'a refused claim changes nothing').toEqual(before);
            }
            if (!live(s.node)) expect(claim.kind).toBe('unleased');
          } else {
            const fence = fences[s.node];
            const attempt = store.update('r', enter({ id: `m${++writes}`, displayName: 'x', role: 'member', inviteId: 'i' }, Date.now()), fence);
            // Unfenced writes are for rooms nobody serves yet; fenced ones for the live holder only.
            const mayWrite = fence === undefined ? before === null : before?.node === fence.node && before.fence === fence.fence && live(s.node);
            if (mayWrite) await expect(attempt).resolves.toBeTruthy();
            else await expect(attempt).rejects.toBeInstanceOf(LeaseLost);
          }
          // However we got here, at most one node can write now, and no two live nodes share a name.
          const home = (await store.get('r'))!.home;
          const writers = NODES.filter((_, i) => {
            const f = fences[i];
            return f !== undefined && home?.node === f.node && home.fence === f.fence && live(i);
          });
          expect(writers.length).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 300 },
    );
  });
});
