import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  admit,
  admitAll,
  createRoom,
  enterAsFacilitator,
  enterAsMember,
  eventually,
  inboundByPeer,
  launchChromium,
  newMember,
  peerNames,
  type InboundSample,
  type Member,
} from '../support/browser.js';
import { startProductionServer, type RunningServer } from '../support/prod-server.js';

/*
 * A facilitator and two members meet through the UI of the production build, in real
 * headless Chromium, through our Socket.IO signalling and a real mediasoup worker: the
 * facilitator creates the session on the start page, the members come in with the invite
 * link (name, privacy, agreement, waiting room) and the facilitator admits them.
 */
describe('a facilitator and two members in one room', () => {
  let server: RunningServer;
  let browser: Browser;
  const names = ['Ada', 'Bea', 'Cyd'] as const;
  const people: Member[] = [];

  beforeAll(async () => {
    server = await startProductionServer();
    browser = await launchChromium();
    for (let i = 0; i < names.length; i++) people.push(await newMember(browser, server.url));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('admitted members see, hear and decode each other; a leaver\'s tile goes away', async () => {
    const [ada, bea, cyd] = people as [Member, Member, Member];
    const { facilitatorUrl, inviteUrl } = await createRoom(ada, 'Thursday group');
    await enterAsFacilitator(ada, facilitatorUrl, names[0]);
    await expect(ada.page.getByTestId('facilitator-panel').isVisible()).resolves.toBe(true);
    // She created the session in this browser, which kept its owner key: her seat is the owner's.
    const ownerRow = ada.page.locator('[data-testid="member-list"] li[data-owner="true"]');
    await expect(ownerRow.getAttribute('data-member-name')).resolves.toBe(names[0]);
    await expect(ownerRow.innerText()).resolves.toContain('created the session');

    await enterAsMember(bea, inviteUrl, names[1]);
    // Waiting: no names and no media reach a member who has not been let in.
    expect(await peerNames(bea.page)).toEqual([]);
    expect(await bea.page.locator('main').innerText()).not.toContain(names[0]);
    await ada.page.getByRole('button', { name: `Admit ${names[1]}`, exact: true }).waitFor();
    await admit(ada.page, names[1]);
    await bea.page.locator('main[data-status="joined"]').waitFor();

    await enterAsMember(cyd, inviteUrl, names[2]);
    await ada.page.getByTestId('waiting-banner').waitFor();
    await admitAll(ada.page);
    await cyd.page.locator('main[data-status="joined"]').waitFor();

    for (const [i, person] of people.entries()) {
      const others = names.filter((_, j) => j !== i).sort();
      await eventually(async () => expect((await peerNames(person.page)).sort()).toEqual(others));
    }

    // Two samples a couple of seconds apart: every stream from every other person must grow.
    const byKey = (samples: InboundSample[]) => new Map(samples.map((s) => [`${s.peerName}/${s.kind}`, s]));
    for (const [i, person] of people.entries()) {
      const others = names.filter((_, j) => j !== i);
      await eventually(async () => {
        const first = byKey(await inboundByPeer(person.page));
        await new Promise((r) => setTimeout(r, 1500));
        const second = byKey(await inboundByPeer(person.page));
        for (const other of others) {
          for (const kind of ['audio', 'video'] as const) {
            const before = first.get(`${other}/${kind}`);
            const after = second.get(`${other}/${kind}`);
            expect(after, `${names[i]} receives ${kind} from ${other}`).toBeDefined();
            expect(after!.bytesReceived, `${names[i]}: ${kind} bytes from ${other} grow`).toBeGreaterThan(before?.bytesReceived ?? 0);
            if (kind === 'video') {
              expect(after!.framesDecoded, `${names[i]}: frames from ${other} decoded`).toBeGreaterThan(before?.framesDecoded ?? 0);
            }
          }
        }
      }, 30_000);
    }

    await cyd.page.getByRole('button', { name: 'Leave', exact: true }).click();
    await cyd.page.locator('main[data-status="left"]').waitFor();
    await eventually(async () => expect((await peerNames(ada.page)).sort()).toEqual(['Bea']));
    await eventually(async () => expect((await peerNames(bea.page)).sort()).toEqual(['Ada']));

    // Nothing that identifies a person reaches the server's log.
    for (const name of names) expect(server.output()).not.toContain(name);
  });

  it('a changed agreement pauses a member until they accept it; removal and the end of the session are final', async () => {
    const [ada, bea] = people as [Member, Member];
    // Ada and Bea are still in the room from the first test.
    await ada.page.getByRole('button', { name: 'Edit the agreement' }).click();
    await ada.page.getByLabel('Agreement text').fill('Be kind.\n\nWhat is said here stays here.');
    await ada.page.getByRole('button', { name: 'Save as a new version' }).click();
    await ada.page.getByRole('button', { name: 'Update the agreement' }).click();

    await bea.page.locator('main[data-status="reacknowledge"]').waitFor();
    await expect(bea.page.getByTestId('agreement-text').innerText()).resolves.toContain('Be kind.');
    await bea.page.getByRole('button', { name: 'I agree' }).click();
    await bea.page.locator('main[data-status="joined"]').waitFor();
    await eventually(async () => expect(await peerNames(bea.page)).toEqual(['Ada']));
    await eventually(async () => {
      const video = (await inboundByPeer(bea.page)).find((s) => s.peerName === 'Ada' && s.kind === 'video');
      const first = video?.framesDecoded ?? 0;
      await new Promise((r) => setTimeout(r, 1000));
      const again = (await inboundByPeer(bea.page)).find((s) => s.peerName === 'Ada' && s.kind === 'video');
      expect(again?.framesDecoded ?? 0, 'video from Ada resumes after accepting').toBeGreaterThan(first);
    }, 20_000);
    await expect(ada.page.getByTestId('acknowledgements').innerText()).resolves.toContain('Bea: accepted this version');

    await ada.page.getByRole('button', { name: 'Remove Bea', exact: true }).click();
    await ada.page.getByLabel('Also block the invite link they used, so it cannot be used to come back').check();
    await ada.page.getByRole('button', { name: 'Remove Bea', exact: true }).click();
    await bea.page.locator('main[data-status="ended"]').waitFor();
    await expect(bea.page.locator('main').innerText()).resolves.toContain('The facilitator has removed you from this session.');
    await eventually(async () => expect(await peerNames(ada.page)).toEqual([]));

    await ada.page.getByRole('button', { name: 'End the session for everyone' }).click();
    await ada.page.getByRole('button', { name: 'End the session now' }).click();
    await ada.page.locator('main[data-status="ended"]').waitFor();
    await expect(ada.page.locator('main').innerText()).resolves.toContain('Thank you for taking part.');
    // The session's end forgets the owner key.
    expect(await ada.page.evaluate(() => Object.keys(window.localStorage).filter((key) => key.startsWith('group-room:owner:')))).toEqual([]);
  });
});
