import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  admit,
  createRoom,
  enterAsFacilitator,
  enterAsMember,
  eventually,
  fillEntryForm,
  inboundByPeer,
  inboundTotals,
  launchChromium,
  newMember,
  peerNames,
  recordReceivedFrames,
  statusHistory,
  watchStatuses,
  type InboundTotals,
  type Member,
} from '../support/browser.js';
import { consumerOffers } from '../support/page-socket.js';
import { startProductionServer, type RunningServer } from '../support/prod-server.js';

/*
 * Issue #4's privacy and ending guarantees, end to end: the production build in headless
 * Chromium, our Socket.IO signalling and a real mediasoup worker (and a real Redis for the
 * last one). Every test makes its own room and people; one browser serves the whole file.
 *
 * Names have a space in them so they cannot turn up by chance inside an id, a token or SDP.
 */
const ADA = 'Ada Quill';
const BEA = 'Bea Rook';
const CYD = 'Cyd Wren';
const NAMES = [ADA, BEA, CYD];

const REDIS_URL = 'redis://127.0.0.1:6379';

/** Each test is a whole session on a 2-core machine that may be shared: be generous. */
const TEST_TIMEOUT_MS = 300_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every listed person's audio and video reach `page` and grow between two samples. */
async function expectReceiving(page: Page, label: string, from: string[]): Promise<void> {
  const key = (peerName: string, kind: string) => `${peerName}/${kind}`;
  await eventually(async () => {
    const first = new Map((await inboundByPeer(page)).map((s) => [key(s.peerName, s.kind), s]));
    await sleep(1500);
    const second = new Map((await inboundByPeer(page)).map((s) => [key(s.peerName, s.kind), s]));
    for (const other of from) {
      for (const kind of ['audio', 'video'] as const) {
        const after = second.get(key(other, kind));
        expect(after, `${label} receives ${kind} from ${other}`).toBeDefined();
        expect(after!.bytesReceived, `${label}: ${kind} bytes from ${other} grow`).toBeGreaterThan(first.get(key(other, kind))?.bytesReceived ?? 0);
      }
    }
  }, 40_000);
}

/** Two samples of everything `page` receives, ~1.5 s apart. */
async function twoSamples(page: Page): Promise<[InboundTotals, InboundTotals]> {
  const first = await inboundTotals(page);
  await sleep(1500);
  return [first, await inboundTotals(page)];
}

/** Socket.IO frames that carry one named server event (`42["name",...]`). */
const eventFrames = (frames: string[], event: string) => frames.filter((f) => f.includes(`["${event}"`));

describe('privacy in the waiting room, a changed agreement, removal and the end of a session', () => {
  let browser: Browser;
  /** Everyone opened by the running test; their contexts are closed after it. */
  let people: Member[] = [];

  const person = async (server: RunningServer): Promise<Member> => {
    const member = await newMember(browser, server.url);
    people.push(member);
    return member;
  };

  /** Facilitator `ada` makes a room and comes in; member `bea` comes in and is admitted. */
  const facilitatorAndMember = async (ada: Member, bea: Member, title: string) => {
    const links = await createRoom(ada, title);
    await enterAsFacilitator(ada, links.facilitatorUrl, ADA);
    await enterAsMember(bea, links.inviteUrl, BEA);
    await ada.page.getByRole('button', { name: `Admit ${BEA}`, exact: true }).waitFor();
    await admit(ada.page, BEA);
    await bea.page.locator('main[data-status="joined"]').waitFor();
    return links;
  };

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterEach(async () => {
    const closing = people;
    people = [];
    for (const member of closing) await member.context.close().catch(() => undefined);
  });

  afterAll(async () => {
    for (const member of people) await member.context.close().catch(() => undefined);
    await browser?.close();
  });

  describe('in memory', () => {
    let server: RunningServer;

    beforeAll(async () => {
      server = await startProductionServer();
    });

    afterAll(async () => {
      await server?.stop();
    });

    it('someone reading the agreement or waiting receives no names and no media while the room talks', async () => {
      const ada = await person(server);
      const bea = await person(server);
      const cyd = await person(server);
      const { inviteUrl } = await facilitatorAndMember(ada, bea, 'Privacy group');
      await expectReceiving(ada.page, ADA, [BEA]);
      await expectReceiving(bea.page, BEA, [ADA]);

      const frames = recordReceivedFrames(cyd.page);
      await cyd.page.goto(inviteUrl);
      await fillEntryForm(cyd.page, CYD);
      await cyd.page.getByRole('button', { name: 'Continue' }).click();

      /*
       * In each status: the room changes meanwhile (Bea mutes and unmutes, so everyone is
       * sent a new view), Ada and Bea go on seeing and hearing each other, and Cyd's page
       * has no inbound RTP at all and shows neither name.
       */
      const whileOutside = async (status: 'agreement' | 'waiting') => {
        await cyd.page.locator(`main[data-status="${status}"]`).waitFor();
        const viewsBefore = eventFrames(frames, 'room:view').length;
        // One step at a time, each seen by Ada, so both are changes of the room's state.
        const beaOnAdasPage = ada.page.locator(`[data-testid="peer-tile"][data-peer-name="${BEA}"]`);
        await bea.page.getByRole('button', { name: 'Mute', exact: true }).click();
        await eventually(async () => expect(await beaOnAdasPage.innerText()).toContain('Muted'));
        await bea.page.getByRole('button', { name: 'Unmute', exact: true }).click();
        await eventually(async () => expect(await beaOnAdasPage.innerText()).not.toContain('Muted'));
        await expectReceiving(ada.page, ADA, [BEA]);
        await expectReceiving(bea.page, BEA, [ADA]);
        await eventually(async () => {
          // The view after the unmute has reached Cyd too (it is sent to everyone in the room).
          expect(eventFrames(frames, 'room:view').length, 'Cyd is sent views of the room').toBeGreaterThanOrEqual(viewsBefore + 2);
        });
        await expect(cyd.page.locator('main').getAttribute('data-status')).resolves.toBe(status);
        const stats = await inboundTotals(cyd.page);
        expect(stats, `no inbound RTP for Cyd in ${status}`).toEqual({ reports: 0, audioBytes: 0, videoBytes: 0 });
        const text = await cyd.page.locator('body').innerText();
        for (const name of [ADA, BEA]) expect(text, `Cyd's page in ${status}`).not.toContain(name);
      };

      await whileOutside('agreement');
      await cyd.page.getByRole('button', { name: 'I agree' }).click();
      await whileOutside('waiting');
      await ada.page.getByRole('button', { name: `Admit ${CYD}`, exact: true }).waitFor();
      await sleep(2000);
      await expect(cyd.page.locator('main').getAttribute('data-status')).resolves.toBe('waiting');
      expect((await inboundTotals(cyd.page)).reports).toBe(0);

      // Everything received before the admission: views (with Cyd's own name), but no one else's.
      const outside = frames.length;
      expect(frames.some((f) => f.includes(CYD)), 'the recording holds what Cyd is sent').toBe(true);
      for (const frame of frames.slice(0, outside)) {
        for (const name of [ADA, BEA]) expect(frame, `a frame sent to Cyd before admission names ${name}`).not.toContain(name);
        // Announced (consumer:new) or listed in an answer (media:ready): an offer carries rtpParameters.
        expect(frame, 'a consumer was offered to Cyd before admission').not.toContain('consumer:new');
        expect(frame, 'a consumer was offered to Cyd before admission').not.toContain('"rtpParameters"');
      }
      expect(consumerOffers(frames.slice(0, outside)), 'consumers offered to Cyd before admission').toEqual([]);

      await admit(ada.page, CYD);
      await cyd.page.locator('main[data-status="joined"]').waitFor();
      // The same recording now has the names and the consumers: the checks above can fail.
      await eventually(async () => {
        const inside = frames.slice(outside);
        for (const name of [ADA, BEA]) expect(inside.some((f) => f.includes(name)), `Cyd is sent ${name}'s name once admitted`).toBe(true);
        // Ada's and Bea's microphone and camera each (most listed in media:ready's answer, not announced).
        const offered = consumerOffers(inside).filter((o) => o.source !== 'screen');
        const kinds = new Set(offered.map((o) => `${o.peerId} ${o.kind}`));
        expect(offered.length, 'consumers offered to Cyd once admitted').toBeGreaterThanOrEqual(4);
        expect(new Set(offered.map((o) => o.peerId)).size, 'from two people').toBe(2);
        expect(kinds.size, 'an audio and a video consumer of each').toBe(4);
      });
      await eventually(async () => expect((await peerNames(cyd.page)).sort()).toEqual([ADA, BEA]));
      await expectReceiving(cyd.page, CYD, [ADA, BEA]);

      for (const name of NAMES) expect(server.output(), 'the server log').not.toContain(name);
    }, TEST_TIMEOUT_MS);

    it('a changed agreement pauses media both ways until the member accepts it again', async () => {
      const ada = await person(server);
      const bea = await person(server);
      await facilitatorAndMember(ada, bea, 'Agreement group');
      // Media flows both ways first (only the two of them, so all inbound RTP is the other's).
      await expectReceiving(ada.page, ADA, [BEA]);
      await expectReceiving(bea.page, BEA, [ADA]);

      await ada.page.getByRole('button', { name: 'Edit the agreement' }).click();
      await ada.page.getByLabel('Agreement text').fill('Be kind.\n\nWhat is said here stays here.\n\nNo recordings.');
      await ada.page.getByRole('button', { name: 'Save as a new version' }).click();
      await ada.page.getByRole('button', { name: 'Update the agreement' }).click();
      await bea.page.locator('main[data-status="reacknowledge"]').waitFor();
      await expect(bea.page.getByTestId('agreement-text').innerText()).resolves.toContain('No recordings.');

      // Let packets already on the way arrive, then: nothing new either way, for as long as Bea reads.
      await sleep(1000);
      await eventually(async () => {
        const [beaBefore, beaAfter] = await twoSamples(bea.page);
        const [adaBefore, adaAfter] = await twoSamples(ada.page);
        // The consumers are still there, paused: this is not the vacuous "nothing to measure".
        expect(beaAfter.reports, "Bea's inbound RTP reports").toBeGreaterThanOrEqual(2);
        expect(adaAfter.reports, "Ada's inbound RTP reports").toBeGreaterThanOrEqual(2);
        expect(beaAfter.audioBytes, 'audio from Ada to Bea is paused').toBe(beaBefore.audioBytes);
        expect(beaAfter.videoBytes, 'video from Ada to Bea is paused').toBe(beaBefore.videoBytes);
        expect(adaAfter.audioBytes, 'audio from Bea to Ada is paused').toBe(adaBefore.audioBytes);
        expect(adaAfter.videoBytes, 'video from Bea to Ada is paused').toBe(adaBefore.videoBytes);
      }, 15_000);
      // And it stays paused: a second pair of samples, a little later, still shows no growth.
      await sleep(1000);
      const [beaLater, beaLatest] = await twoSamples(bea.page);
      const [adaLater, adaLatest] = await twoSamples(ada.page);
      expect(beaLatest, 'Bea still receives nothing while re-reading').toEqual(beaLater);
      expect(adaLatest, 'Ada still receives nothing from Bea while Bea re-reads').toEqual(adaLater);
      await expect(bea.page.locator('main').getAttribute('data-status')).resolves.toBe('reacknowledge');

      await bea.page.getByRole('button', { name: 'I agree' }).click();
      await bea.page.locator('main[data-status="joined"]').waitFor();
      await eventually(async () => {
        const [beaBefore, beaAfter] = await twoSamples(bea.page);
        const [adaBefore, adaAfter] = await twoSamples(ada.page);
        expect(beaAfter.audioBytes, 'audio from Ada to Bea resumes').toBeGreaterThan(beaBefore.audioBytes);
        expect(beaAfter.videoBytes, 'video from Ada to Bea resumes').toBeGreaterThan(beaBefore.videoBytes);
        expect(adaAfter.audioBytes, 'audio from Bea to Ada resumes').toBeGreaterThan(adaBefore.audioBytes);
        expect(adaAfter.videoBytes, 'video from Bea to Ada resumes').toBeGreaterThan(adaBefore.videoBytes);
      }, 30_000);
      await expectReceiving(bea.page, BEA, [ADA]);
      await expectReceiving(ada.page, ADA, [BEA]);

      for (const name of [ADA, BEA]) expect(server.output(), 'the server log').not.toContain(name);
    }, TEST_TIMEOUT_MS);

    it('a member removed with "block" cannot come back with the same invite link', async () => {
      const ada = await person(server);
      const bea = await person(server);
      const { inviteUrl } = await facilitatorAndMember(ada, bea, 'Removal group');

      await ada.page.getByRole('button', { name: `Remove ${BEA}`, exact: true }).click();
      await ada.page.getByLabel('Also block the invite link they used, so it cannot be used to come back').check();
      await ada.page.getByRole('button', { name: `Remove ${BEA}`, exact: true }).click();
      await bea.page.locator('main[data-status="ended"]').waitFor();
      await expect(bea.page.locator('main').innerText()).resolves.toContain('The facilitator has removed you from this session.');
      await eventually(async () => expect(await peerNames(ada.page)).toEqual([]));

      // Bea opens the same invite link again, as if from the message she was sent.
      await bea.page.goto('about:blank');
      const frames = recordReceivedFrames(bea.page);
      await bea.page.goto(inviteUrl);
      await bea.page.locator('main[data-status="idle"]').waitFor();
      await watchStatuses(bea.page);
      await fillEntryForm(bea.page, BEA);
      await bea.page.getByRole('button', { name: 'Continue' }).click();
      await bea.page.locator('main[data-status="error"]').waitFor();
      const refusal = await bea.page.locator('main').innerText();
      expect(refusal).toContain('This link can no longer be used to join this session');

      // She never got as far as the agreement or the waiting room, and was sent nothing of the room.
      await sleep(1500);
      const seen = await statusHistory(bea.page);
      expect(seen).toContain('error');
      for (const status of ['agreement', 'waiting', 'connecting', 'joined']) expect(seen, 'statuses after Continue').not.toContain(status);
      await expect(bea.page.locator('main').getAttribute('data-status')).resolves.toBe('error');
      expect(eventFrames(frames, 'room:view'), 'views sent to the blocked link').toEqual([]);
      expect(frames.some((f) => f.includes(ADA)), "Ada's name sent to the blocked link").toBe(false);

      // The facilitator sees nobody new: nobody waiting, nobody reading the agreement.
      await expect(ada.page.locator('#waiting-list').innerText()).resolves.toContain('Nobody is waiting.');
      await expect(ada.page.getByTestId('waiting-list').count()).resolves.toBe(0);
      await expect(ada.page.getByRole('button', { name: /^Admit/ }).count()).resolves.toBe(0);
      await expect(ada.page.getByTestId('waiting-banner').count()).resolves.toBe(0);
      await expect(ada.page.locator('#waiting-list').innerText()).resolves.not.toContain('Reading the agreement');
      await expect(ada.page.getByTestId('member-list').innerText()).resolves.not.toContain(BEA);
      await expect(ada.page.locator('main').getAttribute('data-status')).resolves.toBe('joined');

      for (const name of [ADA, BEA]) expect(server.output(), 'the server log').not.toContain(name);
    }, TEST_TIMEOUT_MS);
  });

  describe('with Redis', () => {
    const prefix = `group-room-browser-test:${randomUUID()}:`;
    const retentionSeconds = 900;
    let server: RunningServer;
    let redis: RedisClientType;

    /**
     * Every key of this server under the prefix but its node's lease (`<prefix>node:<id>`, the
     * node's routing name with a 5 s TTL: nothing about anyone; `<prefix>name:<name>`, its
     * process id), the list of nodes by lease expiry (`<prefix>nodes`: process ids) and the
     * per-address limit counts
     * (`<prefix>limit:<name>:<digest of the address>`, a number with a TTL of at most an hour:
     * no address, no name). The set of rooms this node serves (`<prefix>homed:<id>`, room ids
     * only) is listed while a room lives, and goes with the room.
     */
    const keys = async (): Promise<string[]> => {
      const found: string[] = [];
      for await (const batch of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) found.push(...batch);
      const leases = found.filter((key) => key.startsWith(`${prefix}node:`));
      for (const key of leases) {
        expect(await redis.get(key)).toMatch(/^[a-z0-9-]+$/);
        expect(await redis.pTTL(key)).toBeLessThanOrEqual(5000);
      }
      const nodes = found.filter((key) => key === `${prefix}nodes`);
      // The node's name, held by its lease: its value is the node's process id.
      const names = found.filter((key) => key.startsWith(`${prefix}name:`));
      for (const key of names) expect(await redis.get(key)).toMatch(/^[0-9a-f-]{36}$/);
      const heartbeats = [...leases, ...nodes, ...names];
      const limits = found.filter((key) => key.startsWith(`${prefix}limit:`));
      for (const key of limits) {
        expect(key).toMatch(/:limit:[a-z-]+:[A-Za-z0-9_-]{22}$/);
        expect(await redis.get(key)).toMatch(/^\d+$/);
        expect(await redis.ttl(key)).toBeLessThanOrEqual(3600);
      }
      return found.filter((key) => !heartbeats.includes(key) && !limits.includes(key)).sort();
    };

    beforeAll(async () => {
      redis = createClient({ url: REDIS_URL });
      redis.on('error', () => undefined);
      await redis.connect();
      server = await startProductionServer({
        REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        TOKEN_SECRET: randomBytes(32).toString('hex'),
        ACK_RETENTION_SECONDS: String(retentionSeconds),
      });
    });

    afterAll(async () => {
      await server?.stop();
      if (redis?.isOpen) {
        const left = await keys();
        if (left.length) await redis.del(left);
        await redis.close();
      }
    });

    it('ending the session leaves only the acknowledgement record in Redis, which expires or is downloaded once from the facilitator\'s end screen', async () => {
      await eventually(async () => expect(server.output()).toContain('"store":"redis"'));
      const ada = await person(server);
      const bea = await person(server);
      const { facilitatorUrl } = await facilitatorAndMember(ada, bea, 'Redis group');
      const roomId = new URL(facilitatorUrl).pathname.split('/').pop()!;
      await expectReceiving(bea.page, BEA, [ADA]);

      // While the session runs, the room is in Redis under the prefix, with a TTL, and its id
      // in the index of live rooms (MAX_ROOMS).
      const roomKey = `${prefix}room:${roomId}`;
      const recordKey = `${prefix}acknowledgements:${roomId}`;
      // Its talk time may be saved beside it too (member ids and milliseconds, no names).
      const talkKey = `${prefix}talk:${roomId}`;
      const homed = (await keys()).filter((key) => key.startsWith(`${prefix}homed:`));
      expect(homed).toHaveLength(1);
      expect(await redis.sMembers(homed[0]!)).toEqual([roomId]);
      expect((await keys()).filter((key) => key !== talkKey && !homed.includes(key))).toEqual([roomKey, `${prefix}rooms`]);
      expect((await redis.get(talkKey)) ?? '').not.toContain(BEA);
      expect(await redis.zRange(`${prefix}rooms`, 0, -1)).toEqual([roomId]);
      expect(await redis.ttl(roomKey)).toBeGreaterThan(0);
      expect(await redis.hGet(roomKey, 'doc')).toContain(BEA);

      await ada.page.getByRole('button', { name: 'End the session for everyone' }).click();
      await ada.page.getByRole('button', { name: 'End the session now' }).click();
      await ada.page.locator('main[data-status="ended"]').waitFor();
      await bea.page.locator('main[data-status="ended"]').waitFor();
      await expect(bea.page.locator('main').innerText()).resolves.toContain('Thank you for taking part.');
      // The record is offered to the facilitator only.
      await ada.page.getByTestId('ack-record').waitFor();
      expect(await bea.page.getByTestId('ack-record').count()).toBe(0);

      const recordIsAllThatIsLeft = async () => {
        expect(await keys()).toEqual([recordKey]);
        const ttl = await redis.ttl(recordKey);
        expect(ttl, 'the record expires').toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(retentionSeconds);
        const stored = JSON.parse((await redis.get(recordKey)) ?? 'null') as { acknowledgements: Record<string, unknown>[] };
        // Who accepted which version when: Bea, once; nothing else about the session (but which facilitator link may take it).
        expect(Object.keys(stored).sort()).toEqual(['acknowledgements', 'facilitatorLinkGeneration']);
        const record = stored.acknowledgements;
        expect(record).toHaveLength(1);
        expect(Object.keys(record[0]!).sort()).toEqual(['at', 'displayName', 'memberId', 'version']);
        expect(record[0]!['displayName']).toBe(BEA);
        return record[0] as { version: string; at: number };
      };
      await eventually(async () => void (await recordIsAllThatIsLeft()));

      // People closing their pages afterwards (leave on disconnect) brings nothing back.
      await bea.context.close();
      await sleep(2000);
      const kept = await recordIsAllThatIsLeft();

      // The facilitator downloads it from the end screen, once: a CSV of Bea's acknowledgement,
      // and the server keeps nothing of it after that.
      const [download] = await Promise.all([
        ada.page.waitForEvent('download'),
        ada.page.getByRole('button', { name: 'Download the acknowledgement record (CSV)', exact: true }).click(),
      ]);
      expect(download.suggestedFilename()).toMatch(/^acknowledgements-\d{4}-\d{2}-\d{2}\.csv$/);
      const csv = await readFile(await download.path(), 'utf8');
      expect(csv).toBe(`\uFEFFpseudonym,agreement_version,acknowledged_at\r\n${BEA},${kept.version},${new Date(kept.at).toISOString()}\r\n`);
      await eventually(async () => expect(await ada.page.getByTestId('ack-record').innerText()).toContain('Downloaded'));
      expect(await keys()).toEqual([]);
      await ada.context.close();
      await sleep(1000);
      expect(await keys()).toEqual([]);

      for (const name of [ADA, BEA]) expect(server.output(), 'the server log').not.toContain(name);
    }, TEST_TIMEOUT_MS);
  });
});
