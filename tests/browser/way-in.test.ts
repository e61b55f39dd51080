import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoom, enterAsFacilitator, eventually, fillEntryForm, launchChromium, newMember, statusHistory, watchStatusesFromStart, type Member } from '../support/browser.js';
import { startProductionServer, type RunningServer } from '../support/prod-server.js';

/*
 * The way in (issue 18, item 4), in the production build in headless Chromium: a seat at the
 * entry agreement goes with its connection, so a reload there enters again with the link the
 * page kept and shows the agreement, not an error; the facilitator sees who is on the way in
 * and clears it, and the people cleared are told their link still works and come back with one
 * click.
 */

const ADA = 'Ada Quill';
const BEA = 'Bea Rook';

const wayIn = (page: Page) => page.locator('#waiting-list').innerText();
/** The member id of the seat this tab keeps (sessionStorage). */
const seatMemberId = (page: Page) =>
  page.evaluate(() => {
    const key = Object.keys(sessionStorage).find((k) => k.startsWith('group-room:seat:'));
    return key ? (JSON.parse(sessionStorage.getItem(key) ?? '{}') as { memberId?: string }).memberId : undefined;
  });

describe('the way in (browser)', () => {
  let server: RunningServer;
  let browser: Browser;
  const people: Member[] = [];

  beforeAll(async () => {
    server = await startProductionServer();
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const member of people) await member.context.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
  });

  it('a reload at the agreement shows the agreement again; the facilitator clears the way in and the people cleared come back with their link', async () => {
    const ada = await newMember(browser, server.url);
    const bea = await newMember(browser, server.url);
    people.push(ada, bea);
    await watchStatusesFromStart(bea.context);
    const links = await createRoom(ada);
    await enterAsFacilitator(ada, links.facilitatorUrl, ADA);

    await bea.page.goto(links.inviteUrl);
    await fillEntryForm(bea.page, BEA);
    await bea.page.getByRole('button', { name: 'Continue' }).click();
    await bea.page.locator('main[data-status="agreement"]').waitFor();
    await eventually(async () => expect(await wayIn(ada.page)).toContain(`1 on their way in (reading the agreement): ${BEA}`));

    // The reload closes her connection, and the server frees her seat at once: the page enters
    // again with the link it kept, straight to the agreement (no entry form, no error).
    const before = await seatMemberId(bea.page);
    expect(before).toBeDefined();
    await bea.page.reload();
    await bea.page.locator('main[data-status="agreement"][data-connection="online"]').waitFor({ timeout: 60_000 });
    // A new seat: the first went with the connection.
    await eventually(async () => expect(await seatMemberId(bea.page)).toBeDefined());
    expect(await seatMemberId(bea.page)).not.toBe(before);
    const statuses = await statusHistory(bea.page);
    for (const screen of ['error', 'ended', 'incomplete-link']) expect(statuses, `after the reload Bea never saw "${screen}"`).not.toContain(screen);
    await expect(bea.page.getByLabel('Your name, as the group will see it').count()).resolves.toBe(0);
    // The facilitator sees one person on the way in, not a ghost of the first seat as well.
    await eventually(async () => expect(await wayIn(ada.page)).toContain(`1 on their way in (reading the agreement): ${BEA}`));

    // Clear: she is told her link still works, and "Enter again" takes her back to the agreement.
    await ada.page.getByRole('button', { name: 'Clear the 1 reading the agreement' }).click();
    await bea.page.locator('main[data-status="ended"]').waitFor();
    await expect(bea.page.locator('main').innerText()).resolves.toContain('Your link still works');
    await eventually(async () => expect(await wayIn(ada.page)).not.toContain('on their way in'));
    await bea.page.getByRole('button', { name: 'Enter again' }).click();
    await bea.page.locator('main[data-status="agreement"]').waitFor();

    // Waiting: clearing the waiting room too is asked first, then she is let go the same way.
    await bea.page.getByRole('button', { name: 'I agree' }).click();
    await bea.page.locator('main[data-status="waiting"]').waitFor();
    await ada.page.getByRole('button', { name: 'Clear everyone on the way in (1)…' }).click();
    await ada.page.getByRole('group', { name: /Let everyone on the way in go/ }).waitFor();
    await ada.page.getByRole('button', { name: 'Clear the way in', exact: true }).click();
    await bea.page.locator('main[data-status="ended"]').waitFor();
    await eventually(async () => expect(await wayIn(ada.page)).toContain('Nobody is waiting.'));
    await bea.page.getByRole('button', { name: 'Enter again' }).click();
    await bea.page.locator('main[data-status="agreement"]').waitFor();
  });
});
