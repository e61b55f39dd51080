import { describe, expect, it } from 'vitest';
import { KeyedQueue } from './keyed-queue.js';

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

describe('KeyedQueue', () => {
  it('runs tasks of one key one at a time, in the order they were queued', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const gates = [gate(), gate(), gate()];
    const results = gates.map((g, i) =>
      queue.run('room', async () => {
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

  it('runs tasks of different keys concurrently', async () => {
    const queue = new KeyedQueue();
    const a = gate();
    const started: string[] = [];
    const first = queue.run('a', async () => {
      started.push('a');
      await a.promise;
      return 'a';
    });
    const second = queue.run('b', async () => {
      started.push('b');
      return 'b';
    });
    // b finishes while a is still blocked.
    expect(await second).toBe('b');
    expect(started).toEqual(['a', 'b']);
    a.open();
    expect(await first).toBe('a');
  });

  it('passes a rejection to its caller and does not block the next task', async () => {
    const queue = new KeyedQueue();
    const failing = queue.run('k', async () => {
      throw new Error('boom');
    });
    const next = queue.run('k', async () => 'next ran');
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next ran');
  });

  it('does not block the next task after a synchronous throw', async () => {
    const queue = new KeyedQueue();
    const failing = queue.run('k', () => {
      throw new Error('sync boom');
    });
    await expect(failing).rejects.toThrow('sync boom');
    await expect(queue.run('k', async () => 1)).resolves.toBe(1);
  });

  it('runs the next task only after a failing task settled', async () => {
    const queue = new KeyedQueue();
    const g = gate();
    const log: string[] = [];
    const failing = queue.run('k', async () => {
      log.push('first');
      await g.promise;
      throw new Error('late');
    });
    const next = queue.run('k', async () => {
      log.push('second');
    });
    await settle();
    expect(log).toEqual(['first']);
    g.open();
    await expect(failing).rejects.toThrow('late');
    await next;
    expect(log).toEqual(['first', 'second']);
  });

  it('accepts new tasks for a key after its queue drained', async () => {
    const queue = new KeyedQueue();
    expect(await queue.run('k', async () => 1)).toBe(1);
    await settle();
    expect(await queue.run('k', async () => 2)).toBe(2);
  });
});
