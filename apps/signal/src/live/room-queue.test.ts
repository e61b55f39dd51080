import { ProtocolFailure } from '@group-room/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_QUEUE_MAX_WAITING, DEFAULT_QUEUE_WAIT_MS, RoomQueue } from './room-queue.js';

/** A promise resolved from outside, to control when a task finishes. */
function gate<T = void>() {
  let open!: (value: T) => void;
  let fail!: (error: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

/** Let every already-queued microtask and promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The rejection of `promise`, which must be the queue's ProtocolFailure UNAVAILABLE. */
async function expectBusy(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProtocolFailure);
  expect((error as ProtocolFailure).code).toBe('UNAVAILABLE');
  expect((error as ProtocolFailure).message).toBe('The room is busy. Try again in a moment.');
}

describe('RoomQueue', () => {
  it('runs tasks one at a time, in the order they were queued', async () => {
    const queue = new RoomQueue();
    const log: string[] = [];
    const gates = [gate(), gate(), gate()];
    const results = gates.map((g, i) =>
      queue.run(async () => {
        log.push(`start ${i}`);
        await g.promise;
        log.push(`end ${i}`);
        return i;
      }),
    );
    await settle();
    expect(log).toEqual(['start 0']);
    // Finishing them out of order must not let a later task start early.
    gates[2]!.open();
    gates[1]!.open();
    await settle();
    expect(log).toEqual(['start 0']);
    gates[0]!.open();
    expect(await Promise.all(results)).toEqual([0, 1, 2]);
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('passes a rejection to its caller and does not block the next task', async () => {
    const queue = new RoomQueue();
    const failing = queue.run(async () => {
      throw new Error('boom');
    });
    const next = queue.run(async () => 'next ran');
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next ran');
  });

  it('does not block the next task after a synchronous throw', async () => {
    const queue = new RoomQueue();
    const failing = queue.run(() => {
      throw new Error('sync boom');
    });
    await expect(failing).rejects.toThrow('sync boom');
    await expect(queue.run(async () => 1)).resolves.toBe(1);
  });

  it('runs the next task only after a failing task settled', async () => {
    const queue = new RoomQueue();
    const g = gate();
    const log: string[] = [];
    const failing = queue.run(async () => {
      log.push('first');
      await g.promise;
      throw new Error('late');
    });
    const next = queue.run(async () => {
      log.push('second');
    });
    await settle();
    expect(log).toEqual(['first']);
    g.open();
    await expect(failing).rejects.toThrow('late');
    await next;
    expect(log).toEqual(['first', 'second']);
  });

  it('counts the running and waiting tasks, is idle once drained, and accepts new tasks then', async () => {
    const queue = new RoomQueue();
    expect(queue.idle).toBe(true);
    const stuck = gate();
    const first = queue.run(() => stuck.promise);
    const second = queue.run(async () => 2);
    expect(queue.size).toBe(2);
    expect(queue.idle).toBe(false);
    stuck.open();
    await first;
    expect(await second).toBe(2);
    await queue.onIdle();
    expect(queue.size).toBe(0);
    expect(queue.idle).toBe(true);
    expect(await queue.run(async () => 3)).toBe(3);
  });

  describe('waiting for a turn', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('refuses a task that could not start in time, never runs it, and keeps the order of the rest', async () => {
      vi.useFakeTimers();
      const queue = new RoomQueue({ waitMs: 1000 });
      const stuck = gate<string>();
      const log: string[] = [];
      const first = queue.run(async () => {
        log.push('first');
        return stuck.promise;
      });
      const refused = queue.run(async () => {
        log.push('refused');
      });
      const refusedSettled = expectBusy(refused);
      await vi.advanceTimersByTimeAsync(600);
      // Queued after the refused one, while the first still runs.
      const later = queue.run(async () => {
        log.push('later');
        return 'later';
      });
      await vi.advanceTimersByTimeAsync(400);
      await refusedSettled;
      expect(log).toEqual(['first']);

      // The refused task's place does not let the later one start beside the first.
      await vi.advanceTimersByTimeAsync(500);
      expect(log).toEqual(['first']);
      stuck.open('first done');
      expect(await first).toBe('first done');
      expect(await later).toBe('later');
      expect(log).toEqual(['first', 'later']);
    });

    it('limits only the wait: a task that started in time may run as long as it needs', async () => {
      vi.useFakeTimers();
      const queue = new RoomQueue({ waitMs: 1000 });
      const a = gate();
      const b = gate();
      const first = queue.run(async () => {
        await a.promise;
        return 'a';
      });
      const second = queue.run(async () => {
        await b.promise;
        return 'b';
      });
      await vi.advanceTimersByTimeAsync(999);
      a.open();
      expect(await first).toBe('a');
      // The second started just in time; it is not cut off later.
      await vi.advanceTimersByTimeAsync(10_000);
      b.open();
      expect(await second).toBe('b');
    });

    it('waits 5 seconds by default', async () => {
      vi.useFakeTimers();
      expect(DEFAULT_QUEUE_WAIT_MS).toBe(5000);
      const queue = new RoomQueue();
      const stuck = gate();
      void queue.run(() => stuck.promise);
      const ran = vi.fn(async () => undefined);
      const waiting = queue.run(ran);
      let settled = false;
      void waiting.then(
        () => (settled = true),
        () => (settled = true),
      );
      await vi.advanceTimersByTimeAsync(4999);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await expectBusy(waiting);
      stuck.open();
      await vi.advanceTimersByTimeAsync(0);
      expect(ran).not.toHaveBeenCalled();
    });

    it('takes new tasks once the slow one finished, without refusing them', async () => {
      vi.useFakeTimers();
      const queue = new RoomQueue({ waitMs: 1000 });
      const stuck = gate();
      const slow = queue.run(() => stuck.promise);
      const refused = expectBusy(queue.run(async () => undefined));
      await vi.advanceTimersByTimeAsync(5000);
      await refused;
      stuck.open();
      await slow;
      const next = queue.run(async () => 'next');
      await vi.advanceTimersByTimeAsync(0);
      expect(await next).toBe('next');
    });

    it('refuses a task behind a failing one only if the failure came too late', async () => {
      vi.useFakeTimers();
      const queue = new RoomQueue({ waitMs: 1000 });
      const g = gate();
      const failing = queue.run(async () => {
        await g.promise;
        throw new Error('late');
      });
      const failed = expect(failing).rejects.toThrow('late');
      const next = queue.run(async () => 'ran');
      await vi.advanceTimersByTimeAsync(500);
      g.open();
      await failed;
      expect(await next).toBe('ran');
    });
  });

  describe('a bounded line', () => {
    it('refuses a task at once, never running it, while `maxWaiting` tasks already wait', async () => {
      const queue = new RoomQueue({ maxWaiting: 2 });
      const stuck = gate();
      const ran: string[] = [];
      const running = queue.run(async () => {
        ran.push('running');
        await stuck.promise;
      });
      await settle();
      // The running task takes no place in the line; two may wait behind it.
      const waiting = ['a', 'b'].map((name) => queue.run(async () => void ran.push(name)));
      expect(queue.size).toBe(3);
      const refused = queue.run(async () => void ran.push('refused'));
      await expectBusy(refused);
      expect(queue.size).toBe(3);
      stuck.open();
      await running;
      await Promise.all(waiting);
      expect(ran).toEqual(['running', 'a', 'b']);
      expect(queue.size).toBe(0);
    });

    it('checks the bound and takes the place in one step: tasks arriving together cannot all get in', async () => {
      const queue = new RoomQueue({ maxWaiting: 2 });
      const stuck = gate();
      const ran: number[] = [];
      void queue.run(() => stuck.promise);
      // Six arrive in the same tick, before any of them could start or settle.
      const burst = Array.from({ length: 6 }, (_, i) => queue.run(async () => void ran.push(i)));
      expect(queue.size).toBe(3);
      const outcomes = burst.map((p) =>
        p.then(
          () => 'ran',
          (e: unknown) => (e instanceof ProtocolFailure ? e.code : 'other'),
        ),
      );
      stuck.open();
      expect(await Promise.all(outcomes)).toEqual(['ran', 'ran', 'UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE']);
      expect(ran).toEqual([0, 1]);
    });

    it('makes room again as waiting tasks start', async () => {
      const queue = new RoomQueue({ maxWaiting: 1 });
      const first = gate();
      const second = gate();
      const one = queue.run(() => first.promise);
      const two = queue.run(() => second.promise);
      await expectBusy(queue.run(async () => undefined));
      first.open();
      await one;
      await settle();
      // The second is running now, nobody waits behind it.
      expect(queue.size).toBe(1);
      const three = queue.run(async () => 'three');
      second.open();
      await two;
      expect(await three).toBe('three');
    });

    it('counts a task refused for waiting too long out of the line at once', async () => {
      vi.useFakeTimers();
      try {
        const queue = new RoomQueue({ waitMs: 1000, maxWaiting: 1 });
        const stuck = gate();
        void queue.run(() => stuck.promise);
        const late = expectBusy(queue.run(async () => undefined));
        await vi.advanceTimersByTimeAsync(1000);
        await late;
        expect(queue.size).toBe(1);
        // Its place is free for the next, which still waits for the stuck one.
        const next = queue.run(async () => 'next');
        stuck.open();
        expect(await next).toBe('next');
      } finally {
        vi.useRealTimers();
      }
    });

    it(`lets ${DEFAULT_QUEUE_MAX_WAITING} wait by default`, async () => {
      const queue = new RoomQueue();
      const stuck = gate();
      void queue.run(() => stuck.promise);
      const waiting = Array.from({ length: DEFAULT_QUEUE_MAX_WAITING }, (_, i) => queue.run(async () => i));
      await expectBusy(queue.run(async () => -1));
      stuck.open();
      expect(await Promise.all(waiting)).toEqual(Array.from({ length: DEFAULT_QUEUE_MAX_WAITING }, (_, i) => i));
    });
  });

  describe("urgent tasks (a facilitator's)", () => {
    it('start before every ordinary task still waiting, in the order they came among themselves', async () => {
      const queue = new RoomQueue();
      const stuck = gate();
      const ran: string[] = [];
      const running = queue.run(async () => {
        ran.push('running');
        await stuck.promise;
      });
      const tasks = [
        queue.run(async () => void ran.push('flood 1')),
        queue.run(async () => void ran.push('flood 2')),
        queue.run(async () => void ran.push('mute'), { urgent: true }),
        queue.run(async () => void ran.push('flood 3')),
        queue.run(async () => void ran.push('remove'), { urgent: true }),
      ];
      stuck.open();
      await running;
      await Promise.all(tasks);
      expect(ran).toEqual(['running', 'mute', 'remove', 'flood 1', 'flood 2', 'flood 3']);
    });

    it('may take the reserved places when ordinary tasks fill the line, and are bounded too', async () => {
      const queue = new RoomQueue({ maxWaiting: 2, urgentReserve: 1 });
      const stuck = gate();
      void queue.run(() => stuck.promise);
      const ordinary = [queue.run(async () => 'a'), queue.run(async () => 'b')];
      await expectBusy(queue.run(async () => 'refused'));
      const urgent = queue.run(async () => 'mute', { urgent: true });
      await expectBusy(queue.run(async () => 'refused too', { urgent: true }));
      stuck.open();
      expect(await urgent).toBe('mute');
      expect(await Promise.all(ordinary)).toEqual(['a', 'b']);
    });
  });

  describe('close()', () => {
    const ended = () => new ProtocolFailure('NOT_FOUND', 'This session has ended');

    it('lets the running task finish, refuses the waiting ones with the given error without running them', async () => {
      const queue = new RoomQueue();
      const stuck = gate<string>();
      const ran: string[] = [];
      const running = queue.run(async () => {
        ran.push('running');
        return stuck.promise;
      });
      const waiting = [queue.run(async () => void ran.push('a')), queue.run(async () => void ran.push('b'), { urgent: true })];
      await settle();
      queue.close(ended);
      stuck.open('finished');
      expect(await running).toBe('finished');
      for (const task of waiting) {
        await expect(task).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'This session has ended' });
      }
      expect(ran).toEqual(['running']);
      await queue.onIdle();
      expect(queue.idle).toBe(true);
    });

    it('refuses new tasks at once with the given error, urgent ones too, and never runs them', async () => {
      const queue = new RoomQueue();
      queue.close(ended);
      const ran = vi.fn(async () => undefined);
      await expect(queue.run(ran)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(queue.run(ran, { urgent: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(queue.size).toBe(0);
      expect(ran).not.toHaveBeenCalled();
    });

    it('keeps the first reason when closed again', async () => {
      const queue = new RoomQueue();
      queue.close(ended);
      queue.close(() => new ProtocolFailure('UNAVAILABLE', 'moved'));
      await expect(queue.run(async () => undefined)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  });
});
