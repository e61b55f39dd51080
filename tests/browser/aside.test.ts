import type { Browser as ChromiumBrowser } from 'playwright-core';
import type { Browser as FirefoxBrowser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, createRoom, enterAdmittedAutomatically, enterAsFacilitator, eventually, newMember, pause, setAutoAdmit, type Member } from '../support/browser.js';
import { FIREFOX, FirefoxMember, launchChromiumIn, launchFirefox, receivedMedia, type ReceivedMedia } from '../support/firefox.js';
import { createNetNamespace, namespaceSupport, startServerInNamespace, type NetNamespace } from '../support/netns.js';
import type { RunningServer } from '../support/prod-server.js';
import { expectNoSeriousViolations, expectNoSeriousViolationsInFirefox } from '../support/axe.js';

/*
 * Taking a member aside, in the production build, measured at the receivers: Sam (facilitator,
 * Chromium, sharing a screen) takes Alex (member, Firefox ESR) aside while Cy (member, Chromium)
 * stays with the group, who is told "Alex is with Sam" and sees no tile of Sam's share meanwhile. The group's inbound bytes from the two stop growing, and the two's from the group; the
 * two keep receiving, decrypting and decoding each other, under a key of their own (the group's
 * page never shows it); a reload of Alex's page keeps the aside; after the return everything
 * flows again, under a fresh generation of the group's key. The browsers run in a network
 * namespace of the test's own, as in firefox.test.ts (Firefox gathers no candidate on loopback).
 */

const support = namespaceSupport([FIREFOX, CHROMIUM]);

type Reader = () => Promise<ReceivedMedia[]>;
type Kind = 'audio' | 'video';

/** A page as the checks read it, in either browser. */
interface Viewer {
  name: string;
  read: Reader;
  /** The key this page sends with now (`gen.step` on its encryption status), or null while it has none. */
  key(): Promise<string | null>;
  /** The tile's encryption state for what it receives from `peer`. */
  tileEncryption(peer: string): Promise<string | null>;
  /** The text on the page. */
  text(): Promise<string>;
  /** The group's line about the aside (not the screen reader's announcement), or null. */
  status(): Promise<string | null>;
  /** How many tiles show `peer`'s shared screen. */
  shareTiles(peer: string): Promise<number>;
}

const inPage = {
  key: () => document.querySelector('[data-testid="encryption-ready"]')?.getAttribute('data-key') ?? null,
  status: () => document.querySelector('[data-testid="aside-status"]')?.textContent ?? null,
  shareTiles: (peer: string) => document.querySelectorAll(`[data-testid="share-tile"][data-peer-name="${peer}"]`).length,
  tile: (peer: string) => document.querySelector(`[data-testid="peer-tile"][data-peer-name="${peer}"]`)?.getAttribute('data-encryption') ?? null,
  text: () => document.body.innerText,
};

interface AnyPage {
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  evaluate<R>(fn: () => R | Promise<R>): Promise<R>;
}

function viewer(name: string, page: AnyPage): Viewer {
  return {
    name,
    read: () => receivedMedia(page as Parameters<typeof receivedMedia>[0]),
    key: () => page.evaluate(inPage.key),
    tileEncryption: (peer) => page.evaluate(inPage.tile, peer),
    text: () => page.evaluate(inPage.text),
    status: () => page.evaluate(inPage.status),
    shareTiles: (peer) => page.evaluate(inPage.shareTiles, peer),
  };
}

const find = (samples: ReceivedMedia[], from: string, kind: Kind) => samples.find((s) => s.peerName === from && s.kind === kind);
const SAMPLE_MS = 1200;

/** `to` keeps receiving audio and video from `from`, and decodes the video (frames that do not decrypt are never decoded). */
async function flowing(to: Viewer, from: string): Promise<void> {
  await eventually(async () => {
    const first = await to.read();
    await pause(SAMPLE_MS);
    const second = await to.read();
    for (const kind of ['audio', 'video'] as const) {
      const before = find(first, from, kind);
      const after = find(second, from, kind);
      expect(after, `${to.name} has a ${kind} stream from ${from}`).toBeDefined();
      expect(after!.bytesReceived, `${to.name}: ${kind} bytes from ${from} grow`).toBeGreaterThan(before?.bytesReceived ?? 0);
      if (kind === 'video') expect(after!.framesDecoded, `${to.name}: video frames from ${from} decoded`).toBeGreaterThan(before?.framesDecoded ?? 0);
    }
  }, 30_000);
}

/** Nothing more of `from`'s audio or video reaches `to`, which had received some: the bytes stay put. */
async function stopped(to: Viewer, from: string): Promise<void> {
  await eventually(async () => {
    const first = await to.read();
    await pause(SAMPLE_MS);
    const second = await to.read();
    for (const kind of ['audio', 'video'] as const) {
      const before = find(first, from, kind)?.bytesReceived;
      expect(before, `${to.name} had received ${kind} from ${from}`).toBeGreaterThan(0);
      expect(find(second, from, kind)?.bytesReceived, `${to.name}: no more ${kind} bytes from ${from}`).toBe(before);
    }
  }, 15_000);
}

/** No audio or video bytes from `from` arrive at `to` (a page that never received any from them counts as silent too). */
async function silent(to: Viewer, from: string): Promise<void> {
  await eventually(async () => {
    const first = await to.read();
    await pause(SAMPLE_MS);
    const second = await to.read();
    for (const kind of ['audio', 'video'] as const) {
      expect(find(second, from, kind)?.bytesReceived ?? 0, `${to.name}: no ${kind} bytes from ${from}`).toBe(find(first, from, kind)?.bytesReceived ?? 0);
    }
  }, 15_000);
}

const gen = (key: string | null) => (key === null ? null : Number(key.split('.')[0]));

describe('take aside, a Chromium facilitator with a Firefox member, a Chromium member in the group', () => {
  let ns: NetNamespace;
  let server: RunningServer;
  let chromium: ChromiumBrowser;
  let firefox: FirefoxBrowser;
  let sam: Member;
  let cyMember: Member;
  let alexMember: FirefoxMember;
  let samV: Viewer;
  let cyV: Viewer;
  let alexV: Viewer;
  /** Key generations seen: the group's before the aside, the aside's. */
  const gens = { group: new Set<number>(), aside: new Set<number>() };

  beforeAll(async () => {
    // Never skipped: without root, iproute2 or the browsers it fails and says which is missing.
    if (!support.ok) throw new Error(`this test ${support.reason}`);
    ns = await createNetNamespace();
    server = await startServerInNamespace(ns, {}, process.env['FIREFOX_TEST_APP_ROOT'] || undefined);
    chromium = await launchChromiumIn(ns);
    firefox = await launchFirefox(ns);

    sam = await newMember(chromium, server.url);
    const { facilitatorUrl, inviteUrl } = await createRoom(sam, 'Aside group');
    await enterAsFacilitator(sam, facilitatorUrl, 'Sam');
    await setAutoAdmit(sam.page, true);
    cyMember = await newMember(chromium, server.url);
    await enterAdmittedAutomatically(cyMember, inviteUrl, 'Cy');
    alexMember = await FirefoxMember.open(firefox, server.url);
    await alexMember.enterAdmittedAutomatically(inviteUrl, 'Alex');
    samV = viewer('Sam', sam.page);
    cyV = viewer('Cy', cyMember.page);
    alexV = viewer('Alex', alexMember.page as unknown as AnyPage);
  });

  afterAll(async () => {
    await firefox?.close().catch(() => undefined);
    await chromium?.close().catch(() => undefined);
    await server?.stop();
    await ns?.destroy();
  });

  it('aside: the group receives nothing from the two, nor they from the group; the two hear and see each other under a key the group never shows', async () => {
    // Everyone receives everyone first, so "stopped" below is about the aside.
    await flowing(cyV, 'Sam');
    await flowing(cyV, 'Alex');
    await flowing(alexV, 'Cy');
    await flowing(samV, 'Cy');
    for (const v of [samV, cyV, alexV]) gens.group.add(gen(await v.key())!);
    // Sam shares a screen (headless Chromium's picker answers at once): the group sees it.
    await sam.page.getByRole('button', { name: 'Share screen', exact: true }).click();
    await eventually(async () => expect(await cyV.shareTiles('Sam')).toBe(1), 30_000);

    // Alex tells the facilitator privately; the signal offers "Take aside" directly (as does Alex's row).
    await alexMember.click('I need a moment');
    const signals = sam.page.getByTestId('private-signals');
    await signals.getByRole('button', { name: 'Take aside: Alex', exact: true }).click();
    await eventually(async () => expect(await alexV.text()).toContain('You are aside with Sam'));
    await eventually(async () => expect(await samV.text()).toContain('You are aside with Alex'));
    // The group is told who is with whom, and nothing else: a line, the two's tiles, and no
    // tile of Sam's share (the server sends none of it across; it would be a frozen picture).
    await eventually(async () => {
      const text = await cyV.text();
      expect(await cyV.status()).toBe('Alex is with Sam');
      expect(text).toContain('With Sam');
      expect(text).toContain('With Alex');
      expect(text).toContain('Sam is sharing their screen with Alex only.');
      expect(await cyV.shareTiles('Sam')).toBe(0);
    });
    // Alex, with Sam, still sees the share. Sam then stops it: the byte checks below are about
    // the cameras and microphones (a big share tile can push a camera tile off a small screen,
    // where the page asks the server to send none of that camera).
    await eventually(async () => expect(await alexV.shareTiles('Sam')).toBe(1), 30_000);
    await sam.page.getByRole('button', { name: 'Stop sharing', exact: true }).click();
    await eventually(async () => expect(await alexV.shareTiles('Sam')).toBe(0), 30_000);
    // Nobody can be taken aside now: one aside at a time.
    await eventually(async () => expect(await sam.page.getByRole('button', { name: /^Take aside/ }).count()).toBe(0));
    await expectNoSeriousViolations(sam.page, 'aside (facilitator)');
    await expectNoSeriousViolationsInFirefox(alexMember.page, 'aside (member)');
    await expectNoSeriousViolations(cyMember.page, 'the group during an aside');

    await stopped(cyV, 'Sam');
    await stopped(cyV, 'Alex');
    await stopped(samV, 'Cy');
    await stopped(alexV, 'Cy');
    await flowing(samV, 'Alex');
    await flowing(alexV, 'Sam');
    expect(await samV.tileEncryption('Alex')).toBe('decrypted');
    expect(await alexV.tileEncryption('Sam')).toBe('decrypted');

    // The two send with one key of their own; the group's page goes on with the group's.
    await eventually(async () => {
      const [s, a, c] = [gen(await samV.key()), gen(await alexV.key()), gen(await cyV.key())];
      expect(s, 'Sam and Alex on one key').toBe(a);
      expect(s).not.toBe(c);
      expect(gens.group.has(s!), 'not the group’s key').toBe(false);
      gens.aside.add(s!);
    });
  });

  it('a reload of the member’s page during the aside keeps the aside', async () => {
    await alexMember.page.reload({ waitUntil: 'load' });
    await alexMember.waitForStatus('joined', 60_000);
    await eventually(async () => expect(await alexV.text()).toContain('You are aside with Sam'), 30_000);
    await flowing(samV, 'Alex');
    await flowing(alexV, 'Sam');
    // Alex's new page sends on new producers, and has new consumers: nothing ever crosses between it and the group.
    await silent(cyV, 'Alex');
    await silent(alexV, 'Cy');
    // Alex's new page counts its frames from 0 again: the two are on a new aside key.
    await eventually(async () => {
      const [s, a, c] = [gen(await samV.key()), gen(await alexV.key()), gen(await cyV.key())];
      expect(s).toBe(a);
      expect(s).not.toBe(c);
      gens.aside.add(s!);
    });
    expect(await cyV.text()).toContain('With Sam');
  });

  it('return: everything flows again, under a fresh generation of the group’s key', async () => {
    // The member ends it (either of the two may).
    await alexMember.click('Return to the group');
    await eventually(async () => expect(await alexV.text()).not.toContain('You are aside with'));
    await flowing(cyV, 'Sam');
    await flowing(cyV, 'Alex');
    await flowing(samV, 'Cy');
    await flowing(alexV, 'Cy');
    await flowing(samV, 'Alex');
    await eventually(async () => {
      const keys = [gen(await samV.key()), gen(await alexV.key()), gen(await cyV.key())];
      expect(new Set(keys).size, 'everyone on one key').toBe(1);
      expect(gens.group.has(keys[0]!), 'a generation made after the aside').toBe(false);
      expect(gens.aside.has(keys[0]!), 'not the aside’s key').toBe(false);
    });
    const text = await cyV.text();
    expect(text).not.toContain('With Sam');
    expect(text).not.toContain('With Alex');
    expect(await cyV.status()).toBeNull();
  });
});
