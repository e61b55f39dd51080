import { readdir, readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { affinity, pin } from '../bench/capacity-load.js';

/*
 * bench:capacity pins its own process to the bench's cores and gives them back after. `taskset
 * -a` failed when a thread it had listed exited before it got to it, which ended a whole
 * `npm run bench` ("failed to get pid N's affinity: No such process"). Here threads come and
 * go throughout; pinning there and back must never fail and must leave every thread as before.
 */
describe('bench:capacity pinning its own process (taskset, real threads)', () => {
  it('pins and gives back every thread while worker threads start and exit', async () => {
    const before = await affinity(process.pid);
    const first = before.split(/[,-]/)[0]!;
    const workers = setInterval(() => void new Worker('setTimeout(() => {}, 3)', { eval: true }), 2);
    try {
      for (let round = 0; round < 8; round++) {
        await pin(process.pid, first);
        await pin(process.pid, before);
      }
    } finally {
      clearInterval(workers);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    await pin(process.pid, before);
    const lists = await Promise.all(
      (await readdir(`/proc/${process.pid}/task`)).map(async (tid) => {
        const status = await readFile(`/proc/${process.pid}/task/${tid}/status`, 'utf8').catch(() => '');
        return /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
      }),
    );
    expect(new Set(lists.filter((l) => l !== undefined))).toEqual(new Set([before]));
  });
});
