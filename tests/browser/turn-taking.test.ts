import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRoom,
  enterAdmittedAutomatically,
  enterAsFacilitator,
  eventually,
  launchChromium,
  newMember,
  peerNames,
  recordReceivedFrames,
  setAutoAdmit,
  type Member,
} from '../support/browser.js';
import { decodeEvents, rawRequest, recordPageSockets, writeToneWav } from '../support/page-socket.js';
import { startProductionServer, type RunningServer } from '../support/prod-server.js';
import { expectFlowing, expectStopped, pause, queueNames, type Sampling } from '../support/room-checks.js';

/*
 * Turn-taking, muting the server enforces, talk time and private signals, through the UI of
 * the production build in headless Chromium, a real mediasoup worker between the pages.
 * Every fake microphone plays a steady tone, so "speaking" is audible to the server.
 * The tests run in order in one room: Ada facilitates, Bea and Cyd are members.
 */

/** Media checks: flowing, the bytes grow over 1.5 s (within 30 s); stopped, they stay put for 2 s (within 20 s). */
const FLOW: Sampling = { sampleMs: 1500, timeoutMs: 30_000 };
const STOPPED: Sampling = { sampleMs: 2000, timeoutMs: 20_000 };

async function textOf(page: Page, testId: string): Promise<string> {
  return page.getByTestId(testId).innerText();
}

async function expectText(page: Page, testId: string, pattern: RegExp): Promise<void> {
  await eventually(async () => expect(await textOf(page, testId)).toMatch(pattern), 20_000);
}

async function speakingMs(page: Page, name: string): Promise<number> {
  const value = await page.locator(`[data-testid="talk-time-row"][data-member-name="${name}"]`).getAttribute('data-speaking-ms');
  if (value === null) throw new Error(`no talk-time row for ${name}`);
  return Number(value);
}

describe('turn-taking, muting and private signals in the browser', () => {
  let server: RunningServer;
  let browser: Browser;
  let tmp: string;
  let ada: Member;
  let bea: Member;
  let cyd: Member;
  /** Every socket frame each page receives. */
  const received = new Map<Member, string[]>();
  const framesOf = (member: Member): string[] => received.get(member) ?? [];

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'group-room-tone-'));
    const tone = path.join(tmp, 'tone.wav');
    writeToneWav(tone);
    server = await startProductionServer();
    browser = await launchChromium([`--use-file-for-fake-audio-capture=${tone}`]);
    [ada, bea, cyd] = [await newMember(browser, server.url), await newMember(browser, server.url), await newMember(browser, server.url)];
    for (const person of [ada, bea, cyd]) {
      await recordPageSockets(person.context);
      received.set(person, recordReceivedFrames(person.page));
    }

    const { facilitatorUrl, inviteUrl } = await createRoom(ada, 'Tuesday group');
    await enterAsFacilitator(ada, facilitatorUrl, 'Ada');
    await setAutoAdmit(ada.page, true);
    // Bea comes in first: a round in order of arrival starts with her.
    await enterAdmittedAutomatically(bea, inviteUrl, 'Bea');
    await enterAdmittedAutomatically(cyd, inviteUrl, 'Cyd');
    for (const [person, others] of [
      [ada, ['Bea', 'Cyd']],
      [bea, ['Ada', 'Cyd']],
      [cyd, ['Ada', 'Bea']],
    ] as const) {
      await eventually(async () => expect((await peerNames(person.page)).sort()).toEqual(others));
    }
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('a facilitator mutes a member: nobody receives their audio any more, and they are told why', async () => {
    await expectFlowing(cyd.page, 'Bea', 'audio', 'Cyd hears Bea before the mute', FLOW);
    await expectFlowing(ada.page, 'Bea', 'audio', 'Ada hears Bea before the mute', FLOW);

    await ada.page.getByRole('button', { name: 'Mute Bea', exact: true }).click();

    await eventually(async () => expect(await bea.page.locator('main').innerText()).toContain('Muted by the facilitator'));
    await expectStopped(cyd.page, 'Bea', 'audio', 'Cyd after Bea was muted', STOPPED);
    await expectStopped(ada.page, 'Bea', 'audio', 'Ada after Bea was muted', STOPPED);
    // Only the microphone: Bea's video and Cyd's audio still arrive.
    await expectFlowing(cyd.page, 'Bea', 'video', 'Cyd still sees Bea', FLOW);
    await expectFlowing(ada.page, 'Cyd', 'audio', 'Ada still hears Cyd', FLOW);
  });

  it('a tampered page that resumes its own producer and re-enables its track still reaches nobody', async () => {
    // Bea's page, bypassing its UI: every audio track on, and the producer "resumed" by a raw request.
    const producers = decodeEvents(framesOf(bea))
      .filter(([name]) => name === 'room:view')
      .map(([, payload]) => payload as { view: { self: { id: string }; members?: { id: string; producers: { id: string; source: string }[] }[] } })
      .at(-1)?.view;
    const mic = producers?.members?.find((m) => m.id === producers.self.id)?.producers.find((p) => p.source === 'mic');
    expect(mic, "Bea's own microphone producer is in her view").toBeDefined();

    await bea.page.evaluate(() => {
      const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
      for (const pc of pcs) for (const sender of pc.getSenders()) if (sender.track?.kind === 'audio') sender.track.enabled = true;
    });
    const answer = await rawRequest(bea.page, 'media:setProducerPaused', { producerId: mic!.id, paused: false });
    expect(answer, 'the server answers the tampered request').toBeDefined();

    await expectStopped(cyd.page, 'Bea', 'audio', 'Cyd after the tampering', STOPPED);
    await expectStopped(ada.page, 'Bea', 'audio', 'Ada after the tampering', STOPPED);
    expect(await bea.page.locator('main').innerText()).toContain('Muted by the facilitator');

    // Only Bea's consent turns her back on: the facilitator asks, she accepts, she is heard.
    await ada.page.getByRole('button', { name: 'Ask to unmute: Bea', exact: true }).click();
    await bea.page.getByTestId('ask-prompt').waitFor();
    await expect(textOf(bea.page, 'ask-prompt')).resolves.toContain('The facilitator asks you to turn your microphone on');
    await bea.page.getByRole('button', { name: 'Turn my microphone on', exact: true }).click();
    await expectFlowing(cyd.page, 'Bea', 'audio', 'Cyd hears Bea after she accepted', FLOW);
    await eventually(async () => expect(await bea.page.locator('main').innerText()).not.toContain('Muted by the facilitator'));
  });

  it('raised hands: the queue keeps its order, only the one given the floor is heard', async () => {
    await ada.page.getByRole('button', { name: 'Raised hands', exact: true }).click();
    await expectText(bea.page, 'floor-status', /raise your hand/i);
    // In raised-hands mode nobody is heard until given the floor.
    await expectStopped(ada.page, 'Bea', 'audio', 'Ada, raised-hands mode, Bea', STOPPED);
    await expectStopped(ada.page, 'Cyd', 'audio', 'Ada, raised-hands mode, Cyd', STOPPED);

    await cyd.page.getByRole('button', { name: 'Raise hand', exact: true }).click();
    await eventually(async () => expect(await queueNames(ada.page)).toEqual(['Cyd']));
    await bea.page.getByRole('button', { name: 'Raise hand', exact: true }).click();
    await eventually(async () => expect(await queueNames(ada.page)).toEqual(['Cyd', 'Bea']));
    await expectText(cyd.page, 'floor-status', /1st in queue/);
    await expectText(bea.page, 'floor-status', /2nd in queue/);

    // The facilitator moves Bea up, then gives the floor to the first in line.
    await ada.page.getByRole('button', { name: 'Move up: Bea', exact: true }).click();
    await eventually(async () => expect(await queueNames(ada.page)).toEqual(['Bea', 'Cyd']));
    await expectText(bea.page, 'floor-status', /1st in queue/);
    await ada.page.getByRole('button', { name: 'Give the floor to Bea', exact: true }).click();

    await expectText(bea.page, 'floor-status', /You have the floor/);
    await eventually(async () => expect(await ada.page.getByTestId('floor-panel').innerText()).toContain('Bea has the floor'));
    await eventually(async () => expect(await queueNames(ada.page)).toEqual(['Cyd']));
    await expectFlowing(ada.page, 'Bea', 'audio', 'Ada hears Bea, who has the floor', FLOW);
    await expectFlowing(cyd.page, 'Bea', 'audio', 'Cyd hears Bea, who has the floor', FLOW);
    await expectStopped(ada.page, 'Cyd', 'audio', 'Ada does not hear Cyd, still waiting', STOPPED);

    // Bea is done; the facilitator gives the floor to the next in line.
    await bea.page.getByRole('button', { name: "I'm done", exact: true }).click();
    await eventually(async () => expect(await ada.page.getByTestId('floor-panel').innerText()).not.toContain('Bea has the floor'));
    await ada.page.getByRole('button', { name: 'Give the floor to Cyd', exact: true }).click();
    await expectText(cyd.page, 'floor-status', /You have the floor/);
    await expectFlowing(bea.page, 'Cyd', 'audio', 'Bea hears Cyd, who has the floor now', FLOW);
    await expectStopped(cyd.page, 'Bea', 'audio', 'Cyd no longer hears Bea', STOPPED);
  });

  it('a talking-stick round passes the turn on by itself when the time is up', async () => {
    await ada.page.getByLabel('Time per turn').selectOption({ label: '15 seconds' });
    await ada.page.getByLabel('Pass automatically').check();
    await ada.page.getByRole('button', { name: 'Start a round', exact: true }).click();

    // Order of arrival: Bea first, with a visible countdown.
    await expectText(bea.page, 'floor-status', /Your turn: 0:\d\d left/);
    await expectFlowing(cyd.page, 'Bea', 'audio', 'Cyd hears Bea, whose turn it is', FLOW);
    await expectStopped(bea.page, 'Cyd', 'audio', 'Bea does not hear Cyd while it is Bea\'s turn', STOPPED);

    // Nobody passes: after 15 seconds the stick moves to Cyd.
    await eventually(async () => expect(await textOf(cyd.page, 'floor-status')).toMatch(/Your turn/), 30_000);
    await eventually(async () => expect(await textOf(bea.page, 'floor-status')).not.toMatch(/Your turn/));
    await expectFlowing(bea.page, 'Cyd', 'audio', 'Bea hears Cyd, whose turn it is now', FLOW);
    await expectStopped(cyd.page, 'Bea', 'audio', 'Cyd does not hear Bea after her turn', STOPPED);

    await ada.page.getByRole('button', { name: 'End the round', exact: true }).click();
    await ada.page.getByRole('button', { name: 'Open floor', exact: true }).click();
    await expectText(bea.page, 'floor-status', /Open floor/);
    await expectFlowing(cyd.page, 'Bea', 'audio', 'open floor again: Cyd hears Bea', FLOW);
  });

  it('a private signal reaches the facilitator at once and no member', async () => {
    const secret = 'Could we talk after the session, please';
    await bea.page.getByRole('button', { name: 'I need a moment', exact: true }).click();
    await bea.page.getByLabel('Private message to the facilitator').fill(secret);
    await bea.page.getByRole('button', { name: 'Send privately', exact: true }).click();
    await eventually(async () => expect(await bea.page.locator('main').innerText()).toContain('Sent privately to the facilitator.'));

    await eventually(async () => {
      const shown = await ada.page.getByTestId('private-signal').allInnerTexts();
      expect(shown.some((t) => t.includes('Bea: needs a moment'))).toBe(true);
      expect(shown.some((t) => t.includes('Bea') && t.includes(secret))).toBe(true);
    });
    // Cyd's connection (and Bea's own) carried no private signal: not the event, not the text.
    for (const member of [cyd, bea]) {
      const frames = framesOf(member);
      expect(frames.length, 'the page did receive frames').toBeGreaterThan(10);
      expect(frames.filter((f) => f.includes('signal:private') || f.includes(secret))).toEqual([]);
    }
    await expect(cyd.page.locator('main').innerText()).resolves.not.toContain(secret);
    expect(server.output()).not.toContain(secret);
  });

  it("talk-time bars show who has been speaking, and not while muted", async () => {
    // Cyd turns her own microphone off; Bea goes on speaking.
    await cyd.page.getByRole('button', { name: 'Mute', exact: true }).click();
    await expectStopped(ada.page, 'Cyd', 'audio', 'Ada after Cyd muted herself', STOPPED);
    const before = { bea: await speakingMs(ada.page, 'Bea'), cyd: await speakingMs(ada.page, 'Cyd') };
    await pause(4000);
    await eventually(async () => {
      const bea = await speakingMs(ada.page, 'Bea');
      const cydNow = await speakingMs(ada.page, 'Cyd');
      expect(bea - before.bea, "Bea's speaking time grows while she speaks").toBeGreaterThan(2000);
      expect(cydNow, "Cyd's does not while she is muted").toBe(before.cyd);
    }, 10_000);
    // Bea has spoken longer overall; her bar is the wider.
    const width = (name: string) =>
      ada.page.locator(`[data-testid="talk-time-row"][data-member-name="${name}"] [data-testid="talk-time-bar"]`).evaluate((el) => el.getBoundingClientRect().width);
    expect(await width('Bea')).toBeGreaterThan(await width('Cyd'));
    // Members never receive anyone's figures.
    for (const member of [bea, cyd]) {
      expect(framesOf(member).filter((f) => f.startsWith('42["talk:time"'))).toEqual([]);
      expect(await member.page.getByTestId('talk-time').count()).toBe(0);
    }
    for (const name of ['Ada', 'Bea', 'Cyd']) expect(server.output()).not.toContain(name);
  });
});
