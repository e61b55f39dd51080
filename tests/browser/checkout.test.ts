import type { Browser as ChromiumBrowser, Page } from 'playwright-core';
import type { Browser as FirefoxBrowser, Page as FirefoxPage } from 'puppeteer-core';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSeriousViolations, expectNoSeriousViolationsInFirefox } from '../support/axe.js';
import { CHROMIUM, createRoom, enterAdmittedAutomatically, enterAsFacilitator, eventually, newMember, recordReceivedFrames, setAutoAdmit, type Member } from '../support/browser.js';
import { FIREFOX, FirefoxMember, launchChromiumIn, launchFirefox } from '../support/firefox.js';
import { createNetNamespace, namespaceSupport, startServerInNamespace, type NetNamespace } from '../support/netns.js';
import type { RunningServer } from '../support/prod-server.js';

/*
 * The check-out (issue 19), end to end in the production build: two facilitators (Ada in
 * Chromium, Fay in Firefox, both with the facilitator link) and two members (Bea in Chromium,
 * Cyd in Firefox). Each member's answer is sealed in their browser for each facilitator's; the
 * facilitators see them arrive, a low one flagged and first; the other member's page, the
 * members' received frames and the server's log never hold an answer; a reload of a facilitator
 * keeps the answers and a reload of a member keeps "answered"; the saved file is made in the
 * browser. One room, in a network namespace of its own (Firefox gathers no ICE candidate on
 * loopback: see firefox.test.ts), so it needs root, iproute2, chromium and firefox-esr.
 *
 * Names and answers have spaces in them so they cannot turn up by chance in an id or a token.
 */
const ADA = 'Ada Quill';
const FAY = 'Fay Lund';
const BEA = 'Bea Rook';
const CYD = 'Cyd Wren';
const BEA_WORDS = 'Heavy week, quiet relief tonight';
const CYD_WORDS = 'Lighter than when I came in';

const TEST_TIMEOUT_MS = 300_000;
const support = namespaceSupport([FIREFOX, CHROMIUM]);

/** Runs in the page: the facilitator panel's check-out lines as shown, `kind [flagged] name | text`. */
const rowsInPage = (panel: string): string[] =>
  [...document.querySelectorAll<HTMLElement>(`${panel} [data-testid="checkout-row"]`)].map(
    (row) => `${row.dataset['kind']}${row.dataset['flagged'] === 'true' ? ' flagged' : ''} ${row.dataset['memberName']} | ${row.innerText.replace(/\s+/g, ' ')}`,
  );
const PANEL = '[data-testid="checkout-panel"]';

const chromiumRows = (page: Page) => page.evaluate(rowsInPage, PANEL);
const firefoxRows = (page: FirefoxPage) => page.evaluate(rowsInPage, PANEL);
const bodyText = (page: { evaluate(fn: () => string): Promise<string> }) => page.evaluate(() => document.body.innerText);

/** The lines a facilitator should see once both answered: Bea (very low, follow-up) first, though she answered second. */
function expectBothAnswers(rows: string[], who: string): void {
  expect(rows, `${who}'s check-out list`).toHaveLength(2);
  expect(rows[0], `${who}: Bea's answer is flagged and first`).toMatch(new RegExp(`^answer flagged ${BEA} \\| .*1 of 5: Very low.*${BEA_WORDS}.*Would like a follow-up`));
  expect(rows[1], `${who}: Cyd's answer`).toMatch(new RegExp(`^answer ${CYD} \\| .*5 of 5: Very good.*${CYD_WORDS}`));
}

describe('the check-out: answers only for the facilitators, in Chromium and Firefox', () => {
  let ns: NetNamespace;
  let server: RunningServer;
  let chromium: ChromiumBrowser;
  let firefox: FirefoxBrowser;

  beforeAll(async () => {
    // Never skipped: without root, iproute2 or the browsers it fails and says which is missing.
    if (!support.ok) throw new Error(`this test ${support.reason}`);
    ns = await createNetNamespace();
    server = await startServerInNamespace(ns);
    chromium = await launchChromiumIn(ns);
    firefox = await launchFirefox(ns);
  }, 120_000);

  afterAll(async () => {
    await firefox?.close().catch(() => undefined);
    await chromium?.close().catch(() => undefined);
    await server?.stop();
    await ns?.destroy();
  });

  it('members answer privately; facilitators see them flagged-first, keep them over a reload and save them', async () => {
    const ada: Member = await newMember(chromium, server.url);
    const bea: Member = await newMember(chromium, server.url);
    const adaFrames = recordReceivedFrames(ada.page);
    const beaFrames = recordReceivedFrames(bea.page);
    const { facilitatorUrl, inviteUrl } = await createRoom(ada, 'Check-out group');
    await enterAsFacilitator(ada, facilitatorUrl, ADA);
    await setAutoAdmit(ada.page, true);

    const fay = await FirefoxMember.open(firefox, server.url);
    await fay.goto(facilitatorUrl);
    await fay.fillEntryForm(FAY);
    await fay.click('Continue');
    await fay.waitForStatus('joined', 60_000);
    await enterAdmittedAutomatically(bea, inviteUrl, BEA);
    const cyd = await FirefoxMember.open(firefox, server.url);
    await cyd.enterAdmittedAutomatically(inviteUrl, CYD);
    // Every page has the room's key (so each member has paired with both facilitators' browsers).
    await eventually(async () => {
      for (const page of [ada.page, bea.page]) expect(await page.getByTestId('encryption-ready').count()).toBe(1);
      for (const page of [fay.page, cyd.page]) expect(await page.$('[data-testid="encryption-ready"]')).not.toBeNull();
    }, 60_000);

    // Ada starts it; it does not end the session. Both members see the form and 0 of 2 done.
    await ada.page.getByRole('button', { name: 'Start check-out', exact: true }).click();
    await eventually(async () => expect(await ada.page.getByTestId('checkout-count').innerText()).toBe('0 of 2 answered'));
    await bea.page.getByRole('group', { name: 'How are you leaving today?' }).waitFor();
    await eventually(async () => expect(await bea.page.getByTestId('checkout-progress').innerText()).toBe('0 of 2 done'));
    await cyd.page.waitForSelector('[data-testid="checkout-form"] fieldset');
    await expectNoSeriousViolations(bea.page, 'check-out open (member)');
    await expectNoSeriousViolationsInFirefox(fay.page, 'check-out open (facilitator)');

    // Cyd (Firefox) answers first: very good, a few words, no follow-up.
    await (await cyd.page.waitForSelector('[data-testid="checkout-form"] input[type="radio"][value="5"]'))!.click();
    await (await cyd.byLabel('A word or a sentence (optional)')).type(CYD_WORDS);
    await cyd.click('Send my answer');
    await cyd.page.waitForSelector('[data-testid="checkout-thanks"]');
    // Bea (Chromium) second: very low, words, a follow-up.
    await bea.page.getByRole('radio', { name: 'Very low', exact: true }).check();
    await bea.page.getByLabel('A word or a sentence (optional)').fill(BEA_WORDS);
    await bea.page.getByLabel('I would like a follow-up').check();
    await bea.page.getByRole('button', { name: 'Send my answer' }).click();
    await bea.page.getByTestId('checkout-thanks').waitFor();

    // Both facilitators, each opening the box sealed for their own browser.
    await eventually(async () => expectBothAnswers(await chromiumRows(ada.page), 'Ada (Chromium)'), 30_000);
    await eventually(async () => expectBothAnswers(await firefoxRows(fay.page), 'Fay (Firefox)'), 30_000);
    await expectNoSeriousViolations(ada.page, 'check-out answers (facilitator)');

    // The members see how many are done, and nothing of anyone's answer.
    await eventually(async () => expect(await bea.page.getByTestId('checkout-progress').innerText()).toBe('2 of 2 done'));
    await eventually(async () => expect(await cyd.page.$eval('[data-testid="checkout-progress"]', (el) => (el as HTMLElement).innerText)).toBe('2 of 2 done'));
    const beaText = await bodyText(bea.page);
    const cydText = await bodyText(cyd.page);
    expect(beaText, "Bea's page").not.toContain(CYD_WORDS);
    expect(cydText, "Cyd's page").not.toContain(BEA_WORDS);
    for (const text of [beaText, cydText]) expect(text, "a member's page shows no one's rating").not.toMatch(/of 5:/);
    // Nothing of the check-out reached Bea's browser but the count: no sealed box, no words.
    expect(beaFrames.some((f) => f.includes('"checkout"')), "Bea's page is sent the check-out's count").toBe(true);
    expect(beaFrames.filter((f) => f.includes('["checkout:answer"')), 'answers delivered to a member').toEqual([]);
    for (const frame of beaFrames) expect(frame).not.toContain(CYD_WORDS);
    // The same recording at Ada's: two sealed boxes came, neither with the words in the clear.
    const boxes = adaFrames.filter((f) => f.includes('["checkout:answer"'));
    expect(boxes, 'answers delivered to Ada').toHaveLength(2);
    for (const box of boxes) for (const words of [BEA_WORDS, CYD_WORDS, 'Very low', 'rating']) expect(box).not.toContain(words);

    // A facilitator's reload keeps the answers (this tab's sessionStorage); a member's keeps "answered".
    await ada.page.reload();
    await ada.page.locator('main[data-status="joined"]').waitFor({ timeout: 60_000 });
    await eventually(async () => expectBothAnswers(await chromiumRows(ada.page), 'Ada after a reload'), 30_000);
    await bea.page.reload();
    await bea.page.locator('main[data-status="joined"]').waitFor({ timeout: 60_000 });
    await bea.page.getByTestId('checkout-thanks').waitFor();
    expect(await bea.page.getByRole('button', { name: 'Send my answer' }).count(), 'no second answer after a reload').toBe(0);

    // Ada ends it: the members' form goes, her list stays, and she saves it as a file.
    await ada.page.getByRole('button', { name: 'End check-out', exact: true }).click();
    await bea.page.getByTestId('checkout-form').waitFor({ state: 'detached' });
    await cyd.page.waitForSelector('[data-testid="checkout-form"]', { hidden: true });
    expectBothAnswers(await chromiumRows(ada.page), 'Ada after the end');
    // Ending the session warns her that the answers are not saved yet, with a Save button there.
    await ada.page.getByRole('button', { name: 'End the session for everyone', exact: true }).click();
    const unsaved = ada.page.getByTestId('end-session-unsaved');
    await unsaved.waitFor();
    const [download] = await Promise.all([ada.page.waitForEvent('download'), unsaved.getByRole('button', { name: 'Save answers' }).click()]);
    await unsaved.waitFor({ state: 'detached' });
    expect(download.suggestedFilename()).toMatch(/^check-out-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = (await readFile((await download.path())!, 'utf8')).split('\r\n');
    expect(csv[1]).toMatch(new RegExp(`^${BEA},1,Very low,"${BEA_WORDS}",yes,yes,\\d{4}-`));
    expect(csv[2]).toMatch(new RegExp(`^${CYD},5,Very good,${CYD_WORDS},no,no,`));

    // The session ends: no answer stays in either facilitator tab's storage; Fay, who saved
    // none, is offered them once on her end screen (from memory).
    await ada.page.getByRole('button', { name: 'End the session now', exact: true }).click();
    await ada.page.locator('main[data-status="ended"]').waitFor();
    await fay.page.waitForSelector('[data-testid="checkout-end-offer"]');
    const keptAnswers = () => Object.keys(sessionStorage).filter((k) => k.startsWith('group-room:checkout:'));
    expect(await ada.page.evaluate(keptAnswers), "Ada's tab storage").toEqual([]);
    expect(await fay.page.evaluate(keptAnswers), "Fay's tab storage").toEqual([]);

    // The server never had an answer in the clear, and logged no name.
    for (const secret of [BEA_WORDS, CYD_WORDS, ADA, FAY, BEA, CYD]) expect(server.output(), 'the server log').not.toContain(secret);

    await fay.close();
    await cyd.close();
    await bea.context.close();
    await ada.context.close();
  }, TEST_TIMEOUT_MS);
});
