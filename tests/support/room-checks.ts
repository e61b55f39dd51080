import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { eventually, inboundByPeer, pause } from './browser.js';

// Vitest-free, so the benchmarks can use them too; here with the rest of the checks.
export { pause, tileConnection } from './browser.js';

/*
 * Checks on a room as a page in headless Chromium sees it: media arriving (or not) from a
 * peer, the facilitator's queue, a peer tile's connection state, the seat a tab keeps.
 */

export type Kind = 'audio' | 'video';

/** How a media check samples: bytes are read `sampleMs` apart, retried for up to `timeoutMs`. */
export interface Sampling {
  sampleMs: number;
  timeoutMs: number;
}

/** Bytes of `kind` `page` has received from `peerName` so far (undefined: no such stream). */
export async function bytesFrom(page: Page, peerName: string, kind: Kind): Promise<number | undefined> {
  return (await inboundByPeer(page)).find((s) => s.peerName === peerName && s.kind === kind)?.bytesReceived;
}

/** `page` keeps receiving `kind` from `peerName`: the bytes grow over `sampleMs`. */
export async function expectFlowing(page: Page, peerName: string, kind: Kind, what: string, { sampleMs, timeoutMs }: Sampling): Promise<void> {
  await eventually(async () => {
    const before = await bytesFrom(page, peerName, kind);
    await pause(sampleMs);
    const after = await bytesFrom(page, peerName, kind);
    expect(after, `${what}: a ${kind} stream exists`).toBeDefined();
    expect(after!, `${what}: ${kind} bytes grow`).toBeGreaterThan(before ?? 0);
  }, timeoutMs);
}

/** Nothing more of `kind` from `peerName` reaches `page`, which had received some: the bytes stay put for `sampleMs`. */
export async function expectStopped(page: Page, peerName: string, kind: Kind, what: string, { sampleMs, timeoutMs }: Sampling): Promise<void> {
  await eventually(async () => {
    const before = await bytesFrom(page, peerName, kind);
    await pause(sampleMs);
    const after = await bytesFrom(page, peerName, kind);
    expect(before, `${what}: a ${kind} stream had been received`).toBeGreaterThan(0);
    expect(after, `${what}: ${kind} bytes stay put`).toBe(before);
  }, timeoutMs);
}

/** No audio bytes from `peerName` arrive at `page` for `sampleMs` (none ever received counts as silent too). */
export async function expectSilent(page: Page, peerName: string, what: string, { sampleMs, timeoutMs }: Sampling): Promise<void> {
  await eventually(async () => {
    const before = await bytesFrom(page, peerName, 'audio');
    await pause(sampleMs);
    expect(await bytesFrom(page, peerName, 'audio'), `${what}: no audio bytes arrive`).toBe(before);
  }, timeoutMs);
}

/** The member id this tab keeps its seat under (sessionStorage, as the client saves it), or null if none. */
export async function storedSeatMemberId(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    for (let i = 0; i < sessionStorage.length; i++) {
      const key = sessionStorage.key(i);
      if (key?.startsWith('group-room:seat:')) return (JSON.parse(sessionStorage.getItem(key) ?? '{}') as { memberId?: string }).memberId ?? null;
    }
    return null;
  });
}

/** The member id this tab keeps its seat under; throws if it keeps none. */
export async function seatMemberId(page: Page): Promise<string> {
  const id = await storedSeatMemberId(page);
  if (!id) throw new Error('no seat in sessionStorage');
  return id;
}

/** The queue as the facilitator's panel shows it, first in line first. */
export async function queueNames(page: Page): Promise<string[]> {
  return page
    .getByTestId('hand-queue')
    .locator('li[data-member-name]')
    .evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset['memberName'] ?? ''));
}
