import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoom, enterAsFacilitator, eventually, fillEntryForm, launchChromium, newMember, setAutoAdmit, type Member } from '../support/browser.js';
import { startProductionServer, type RunningServer } from '../support/prod-server.js';

/*
 * The room page's parts loaded apart (apps/web/lib/lazy-part.ts, components/PartBoundary.tsx),
 * in headless Chromium against the production build: a part that has arrived shows without
 * the "Opening…" fallback, and a part whose chunk cannot be fetched says so in its place and
 * loads with "Try again" once the network is back, without a reload.
 */

/** Count every "Opening…" status the page shows (in `window.__openings`), from its first script on. */
const countOpenings = () => {
  const w = window as unknown as { __openings: number };
  w.__openings = 0;
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (!(node instanceof Element)) continue;
        const statuses = [node, ...node.querySelectorAll('[role="status"]')].filter((e) => e.getAttribute('role') === 'status');
        if (statuses.some((e) => e.textContent?.startsWith('Opening'))) w.__openings++;
      }
    }
  }).observe(document, { childList: true, subtree: true });
};

const CHUNKS = '**/_next/static/chunks/**';

/** The page's chunk requests still under way (Playwright's view of the network). */
function pendingChunks(page: Page): Set<string> {
  const pending = new Set<string>();
  const isChunk = (url: string) => url.includes('/_next/static/chunks/');
  page.on('request', (request) => {
    if (isChunk(request.url())) pending.add(request.url());
  });
  const done = (request: { url(): string }) => pending.delete(request.url());
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  return pending;
}

describe('parts of the room page loaded apart', () => {
  let server: RunningServer;
  let browser: Browser;
  let ada: Member;
  let inviteUrl: string;

  beforeAll(async () => {
    server = await startProductionServer();
    browser = await launchChromium();
    ada = await newMember(browser, server.url);
    const links = await createRoom(ada, 'Lazy parts');
    inviteUrl = links.inviteUrl;
    await enterAsFacilitator(ada, links.facilitatorUrl, 'Ada');
    await setAutoAdmit(ada.page, true);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows a part that has arrived at once: no "Opening…" between the agreement and the room', async () => {
    const bea = await newMember(browser, server.url);
    await bea.context.addInitScript(countOpenings);
    const { page } = bea;
    const pending = pendingChunks(page);
    await page.goto(inviteUrl);
    await fillEntryForm(page, 'Bea');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'I agree' }).waitFor();
    // Everything the page asked for on the way in (the room's screens among it) has arrived.
    await eventually(async () => expect([...pending]).toEqual([]), 20_000);
    await page.evaluate(() => ((window as unknown as { __openings: number }).__openings = 0));
    await page.getByRole('button', { name: 'I agree' }).click();
    await page.locator('main[data-status="joined"]').waitFor({ timeout: 60_000 });
    expect(await page.evaluate(() => (window as unknown as { __openings: number }).__openings)).toBe(0);
    await bea.context.close();
  });

  it('says a part could not load, with its heading focused, and loads it with "Try again" once the network is back', async () => {
    const cyd = await newMember(browser, server.url);
    await cyd.context.addInitScript(countOpenings);
    const { page } = cyd;
    await page.goto(inviteUrl);
    await fillEntryForm(page, 'Cyd');
    // The entry form's own code is here; whatever comes after it cannot be fetched.
    await page.route(CHUNKS, (route) => route.abort('internetdisconnected'));
    await page.getByRole('button', { name: 'Continue' }).click();
    const heading = page.getByRole('heading', { name: 'Part of this page could not load' });
    await heading.waitFor({ timeout: 60_000 });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Part of this page could not load');
    // The counter's control: while the part was tried, its "Opening…" showed and was counted.
    expect(await page.evaluate(() => (window as unknown as { __openings: number }).__openings)).toBeGreaterThan(0);
    await page.unroute(CHUNKS);
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.getByRole('button', { name: 'I agree' }).click();
    await page.locator('main[data-status="joined"]').waitFor({ timeout: 60_000 });
    await cyd.context.close();
  });
});
