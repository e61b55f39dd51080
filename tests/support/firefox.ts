import type { Browser as ChromiumBrowser } from 'playwright-core';
import puppeteer, { type Browser, type BrowserContext, type ElementHandle, type Page } from 'puppeteer-core';
import { CHROMIUM, launchChromium, PRIVATE_SPACE, recordPeerConnections } from './browser.js';
import type { NetNamespace } from './netns.js';

/*
 * Browsers inside a network namespace (tests/support/netns.ts): Debian's Firefox ESR driven by
 * Puppeteer over WebDriver BiDi (Playwright needs its own patched Firefox build), and Debian's
 * Chromium driven by Playwright as in tests/support/browser.ts, so the two can meet in a room.
 *
 * Chromium: Playwright starts the executable it is given and talks to it over a pipe (file
 * descriptors 3 and 4); a wrapper script `exec ip netns exec NAME /usr/bin/chromium "$@"` keeps
 * the process and its descriptors, so nothing else changes.
 *
 * Firefox: Puppeteer starts it the same way (a wrapper), then reads "WebDriver BiDi listening on
 * ws://127.0.0.1:PORT" from its stderr and connects to that address — from outside the
 * namespace, where the browser's 127.0.0.1 is not. So Firefox is told which port to listen on
 * (`--remote-debugging-port`), and `ns.forwardLoopback()` has made that same port number on
 * this machine's 127.0.0.1 lead to the namespace's: Puppeteer connects as it always does.
 *
 * Over BiDi, CSS selectors and `page.evaluate` work; ARIA selectors (`::-p-aria`) did not, so
 * the helpers below find labels and buttons by their text in the page.
 */

export const FIREFOX = process.env['FIREFOX_PATH'] ?? '/usr/bin/firefox-esr';

/** Fake camera and microphone without a prompt, media that plays without a gesture, real addresses in getStats(). */
export const FIREFOX_PREFS: Record<string, unknown> = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
};

/** Firefox ESR, headless, inside `ns`. */
export async function launchFirefox(ns: NetNamespace, extraPrefs: Record<string, unknown> = {}): Promise<Browser> {
  const port = await ns.forwardLoopback();
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: ns.wrapper(FIREFOX),
    headless: true,
    args: [`--remote-debugging-port=${port}`],
    extraPrefsFirefox: { ...FIREFOX_PREFS, ...extraPrefs },
    // The test runner handles signals; Puppeteer still kills the browser's process group on close.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    timeout: 60_000,
  });
}

/** Debian's Chromium inside `ns`, with tests/support/browser.ts's launchChromium's flags. */
export function launchChromiumIn(ns: NetNamespace, extraArgs: string[] = []): Promise<ChromiumBrowser> {
  return launchChromium(extraArgs, ns.wrapper(CHROMIUM));
}

/** A person in Firefox: their own browser context (storage), one page, the room's base URL. */
export class FirefoxMember {
  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    readonly baseUrl: string,
  ) {}

  static async open(browser: Browser, baseUrl: string): Promise<FirefoxMember> {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width: 1024, height: 700 });
    await page.evaluateOnNewDocument(recordPeerConnections);
    // tsx and vitest (esbuild, keepNames) wrap functions sent to the page in a __name() helper.
    await page.evaluateOnNewDocument('globalThis.__name = (fn) => fn;');
    return new FirefoxMember(context, page, baseUrl);
  }

  async goto(url: string): Promise<void> {
    await this.page.goto(new URL(url, this.baseUrl).href, { waitUntil: 'load' });
  }

  /** Wait for `main[data-status=…]`, the client's status. */
  async waitForStatus(status: string, timeoutMs = 30_000): Promise<void> {
    try {
      await this.page.waitForSelector(`main[data-status="${status}"]`, { timeout: timeoutMs });
    } catch (error) {
      throw new Error(`status "${status}" not reached within ${timeoutMs} ms; the page shows ${await this.describe()}`, { cause: error });
    }
  }

  /** What the page shows now, for a failure message: its URL, status and the start of its text. */
  async describe(): Promise<string> {
    try {
      const { status, text } = await this.page.evaluate(() => ({
        status: document.querySelector('main')?.getAttribute('data-status') ?? '(no main)',
        text: (document.body?.innerText ?? '').replace(/\s+/g, ' ').slice(0, 300),
      }));
      return `${this.page.url()} [status ${status}]: ${text}`;
    } catch (error) {
      return `${this.page.url()} (unreadable: ${(error as Error).message})`;
    }
  }

  /** Wait in the page until `find` returns an element; on time-out say what the page showed instead. */
  private async waitForElement<E extends Element>(what: string, find: (wanted: string) => E | null, wanted: string, timeoutMs: number): Promise<ElementHandle<E>> {
    try {
      return (await this.page.waitForFunction(find, { timeout: timeoutMs, polling: 100 }, wanted)) as ElementHandle<E>;
    } catch (error) {
      throw new Error(`${what} "${wanted}" did not appear within ${timeoutMs} ms; the page shows ${await this.describe()}`, { cause: error });
    }
  }

  /** The form control a `<label>` with exactly this text names. */
  byLabel(text: string, timeoutMs = 30_000): Promise<ElementHandle<HTMLElement>> {
    return this.waitForElement(
      'a control labelled',
      (wanted: string) => {
        const label = [...document.querySelectorAll('label')].find((l) => l.textContent?.trim() === wanted);
        return (label?.control as HTMLElement | null | undefined) ?? null;
      },
      text,
      timeoutMs,
    );
  }

  /** An enabled button whose text (or aria-label) is exactly `name`. */
  button(name: string, timeoutMs = 30_000): Promise<ElementHandle<HTMLButtonElement>> {
    return this.waitForElement(
      'an enabled button',
      (wanted: string) =>
        [...document.querySelectorAll('button')].find((b) => !b.disabled && (b.getAttribute('aria-label') ?? b.textContent ?? '').trim() === wanted) ?? null,
      name,
      timeoutMs,
    );
  }

  async click(buttonName: string): Promise<void> {
    await (await this.button(buttonName)).click();
  }

  /** The entry form every link starts with: a name and the "somewhere private" confirmation. */
  async fillEntryForm(name: string): Promise<void> {
    const input = await this.byLabel('Your name, as the group will see it');
    await input.evaluate((el) => (el as HTMLInputElement).select());
    await input.type(name);
    const privateSpace = await this.byLabel(PRIVATE_SPACE);
    if (!(await privateSpace.evaluate((el) => (el as HTMLInputElement).checked))) await privateSpace.click();
  }

  /** Invite link, name, privacy, agreement: lands waiting for the facilitator. */
  async enterAsMember(inviteUrl: string, name: string): Promise<void> {
    await this.goto(inviteUrl);
    await this.fillEntryForm(name);
    await this.click('Continue');
    await this.waitForStatus('agreement');
    await this.click('I agree');
    await this.waitForStatus('waiting');
  }

  /** With auto-admit on: invite link, entry form, agreement, straight into the room. */
  async enterAdmittedAutomatically(inviteUrl: string, name: string): Promise<void> {
    await this.goto(inviteUrl);
    await this.fillEntryForm(name);
    await this.click('Continue');
    await this.click('I agree');
    await this.waitForStatus('joined', 60_000);
  }

  async peerNames(): Promise<string[]> {
    return this.page.evaluate(() => [...document.querySelectorAll<HTMLElement>('[data-testid="peer-tile"]')].map((t) => t.dataset['peerName'] ?? ''));
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

export interface ReceivedMedia {
  peerName: string;
  kind: 'audio' | 'video';
  bytesReceived: number;
  packetsReceived: number;
  /** Video frames decoded (0 for audio). */
  framesDecoded: number;
  /** Audio samples received, concealed ones included (0 for video, or where the browser does not say). */
  totalSamplesReceived: number;
}

/**
 * Runs in the page, in Chromium or Firefox (give it to either's `page.evaluate`): inbound RTP
 * per remote member, matched through each tile's tracks to the reports' trackIdentifier, like
 * tests/support/browser.ts's inboundByPeer, with packets and audio samples too.
 */
export const receivedMediaInPage = async (): Promise<ReceivedMedia[]> => {
  const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
  const reports = new Map<string, Record<string, unknown>>();
  for (const pc of pcs) {
    if (pc.connectionState === 'closed') continue;
    const stats = await pc.getStats();
    stats.forEach((r: Record<string, unknown>) => {
      if (r['type'] === 'inbound-rtp' && typeof r['trackIdentifier'] === 'string') reports.set(r['trackIdentifier'], r);
    });
  }
  const samples: ReceivedMedia[] = [];
  for (const tile of document.querySelectorAll<HTMLElement>('[data-testid="peer-tile"]')) {
    const peerName = tile.dataset['peerName'] ?? '';
    for (const element of [tile.querySelector('video'), tile.querySelector('audio')]) {
      const stream = element?.srcObject;
      if (!(stream instanceof MediaStream)) continue;
      for (const track of stream.getTracks()) {
        const report = reports.get(track.id);
        if (!report) continue;
        samples.push({
          peerName,
          kind: track.kind as 'audio' | 'video',
          bytesReceived: Number(report['bytesReceived'] ?? 0),
          packetsReceived: Number(report['packetsReceived'] ?? 0),
          framesDecoded: Number(report['framesDecoded'] ?? 0),
          totalSamplesReceived: Number(report['totalSamplesReceived'] ?? 0),
        });
      }
    }
  }
  return samples;
};

/** What a page (Playwright's or Puppeteer's) receives from each remote member now. */
export function receivedMedia(page: { evaluate(fn: typeof receivedMediaInPage): Promise<ReceivedMedia[]> }): Promise<ReceivedMedia[]> {
  return page.evaluate(receivedMediaInPage);
}

export interface SelectedPair {
  local: string;
  remote: string;
  protocol: string;
}

/**
 * Runs in the page, in Chromium or Firefox: the addresses of each open peer connection's
 * selected ICE candidate pair (Firefox marks it `selected`; Chromium names it from the transport).
 */
export const selectedPairsInPage = async (): Promise<SelectedPair[]> => {
  const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
  const pairs: SelectedPair[] = [];
  for (const pc of pcs) {
    if (pc.connectionState === 'closed') continue;
    const byId = new Map<string, Record<string, unknown>>();
    (await pc.getStats()).forEach((r: Record<string, unknown>) => byId.set(String(r['id']), r));
    const chosen = new Set<unknown>();
    for (const r of byId.values()) {
      if (r['type'] === 'transport' && r['selectedCandidatePairId']) chosen.add(r['selectedCandidatePairId']);
      if (r['type'] === 'candidate-pair' && r['selected'] === true) chosen.add(r['id']);
    }
    for (const id of chosen) {
      const pair = byId.get(String(id));
      const local = pair && byId.get(String(pair['localCandidateId']));
      const remote = pair && byId.get(String(pair['remoteCandidateId']));
      if (!local || !remote) continue;
      const where = (c: Record<string, unknown>) => String(c['address'] ?? c['ip'] ?? '');
      pairs.push({ local: where(local), remote: where(remote), protocol: String(local['protocol'] ?? '') });
    }
  }
  return pairs;
};

/** The selected ICE pairs of a page (Playwright's or Puppeteer's). */
export function selectedPairs(page: { evaluate(fn: typeof selectedPairsInPage): Promise<SelectedPair[]> }): Promise<SelectedPair[]> {
  return page.evaluate(selectedPairsInPage);
}
