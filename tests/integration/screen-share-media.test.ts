import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flowing, openMediaRoom, PlainPeer, still } from './plain-peer.js';
import {
  admittedMember,
  bothStores,
  command,
  currentView,
  drop,
  expectError,
  mediaJoin,
  offersOf,
  ok,
  resume,
  useRedis,
  useServer,
  viewWhere,
  WAIT,
  waitForEvent,
  waitForOffer,
  type watchMedia,
} from '../support/signal-client.js';

/*
 * Screen sharing on the server (issue 19), through a real signal server and a real mediasoup
 * worker, with media sent and counted over plain RTP (plain-peer.ts): a member shares only with
 * a facilitator's grant (a modified client's raw `media:produce` is refused and nothing of it is
 * forwarded), a withdrawal or a stop closes the share on the server at once and it stops at every
 * receiver, one share at a time unless the facilitator allows two (a facilitator's replaces a
 * member's), a screen whose recording failed after the store's write is taken out of the state
 * too, and a share outlives a dropped connection. Both stores.
 */

const prefix = `group-room-itest-share:${process.pid}:${randomBytes(6).toString('hex')}:`;

describe.each(bothStores(prefix))('screen shares on the server ($store store)', ({ env }) => {
  if (env['REDIS_URL']) useRedis(prefix);
  const t = useServer({ ...env, SYNTHETIC_MEDIA: 'true' });
  const peers: PlainPeer[] = [];

  afterEach(() => {
    for (const peer of peers.splice(0)) peer.close();
  });

  /** A facilitator and members, each sending a microphone (the control stream) and receiving everyone. */
  async function shareRoom(...names: string[]) {
    const { room, watch, media } = await openMediaRoom(t.server, names, ['mic'], peers);
    return { room, watch, media, live: t.server.rooms.get(room.roomId)! };
  }

  const screensOf = (watch: ReturnType<typeof watchMedia>) => [...watch.producers.values()].filter((p) => (p.appData as { source?: string }).source === 'screen');
  const screenOffers = (peer: PlainPeer) => offersOf(peer.person.socket).filter((c) => c.source === 'screen');

  /** The receiver was told its consumer of this producer closed. */
  async function closedAt(receiver: PlainPeer, producerId: string): Promise<void> {
    const offer = offersOf(receiver.person.socket).find((c) => c.producerId === producerId);
    expect(offer, 'the receiver was offered it').toBeDefined();
    await waitForEvent(receiver.person.socket, 'consumer:closed', (c) => c.consumerId === offer!.consumerId);
  }

  it('a member without a grant cannot publish a screen, even by a raw media:produce: refused, nothing made, nothing forwarded', async () => {
    const { room, watch, media, live } = await shareRoom('Mo', 'Lu');
    const [fay, mo, lu] = media as [PlainPeer, PlainPeer, PlainPeer];
    const fac = room.facilitator;
    expect(currentView(mo.person).self.share.may).toBe(false);

    // The modified client asks anyway, and sends the screen's RTP all the same.
    expectError(await mo.tryProduce('screen'), 'FORBIDDEN');
    expect(screensOf(watch)).toEqual([]);
    await still(() => fay.packetsFrom(mo.person.id, 'screen') + lu.packetsFrom(mo.person.id, 'screen'), () => fay.packetsFrom(lu.person.id, 'mic'));
    expect([...screenOffers(fay), ...screenOffers(lu)]).toEqual([]);

    // Granted and withdrawn: refused again.
    await command(fac, { type: 'share.grant', memberId: mo.person.id });
    await viewWhere(mo.person, (v) => v.self.share.may);
    await command(fac, { type: 'share.revoke', memberId: mo.person.id });
    await viewWhere(mo.person, (v) => !v.self.share.may);
    expectError(await mo.tryProduce('screen'), 'FORBIDDEN');
    expect(screensOf(watch)).toEqual([]);

    // The check the state's change makes is what decides: the grant withdrawn while the member's
    // produce waits for its turn (its early check passed) is refused there, and the screen made
    // meanwhile is closed without a packet forwarded. The room's queue is held so the
    // withdrawal (a facilitator's, urgent) goes first.
    await command(fac, { type: 'share.grant', memberId: mo.person.id });
    await viewWhere(mo.person, (v) => v.self.share.may);
    let open!: () => void;
    const gate = live.run(() => new Promise<void>((resolve) => (open = resolve)));
    await vi.waitFor(() => expect(live.queue.size).toBe(1), WAIT);
    const produced = mo.tryProduce('screen');
    await vi.waitFor(() => expect(live.queue.size).toBe(2), WAIT);
    const revoked = command(fac, { type: 'share.revoke', memberId: mo.person.id });
    await vi.waitFor(() => expect(live.queue.size).toBe(3), WAIT);
    // Held long enough for the screen's next key frame (one a second): had the screen made
    // meanwhile been offered and let flow, the receivers would have its packets.
    const control = fay.packetsFrom(lu.person.id, 'mic');
    await vi.waitFor(() => expect(fay.packetsFrom(lu.person.id, 'mic')).toBeGreaterThan(control + 60), WAIT);
    open();
    await gate;
    await revoked;
    expectError(await produced, 'FORBIDDEN');
    const [made] = screensOf(watch);
    expect(made?.closed).toBe(true);
    await still(() => fay.packetsOf(made!.id) + lu.packetsOf(made!.id), () => fay.packetsFrom(lu.person.id, 'mic'));
    expect(fay.packetsOf(made!.id) + lu.packetsOf(made!.id)).toBe(0);
    // Not even announced: a screen is offered once the state records it.
    expect([...screenOffers(fay), ...screenOffers(lu)]).toEqual([]);
    mo.forget('screen');

    // A screen is one VP8 video layer: not audio, not simulcast (a facilitator's too).
    const request = await fay.produceRequest('screen');
    expectError(await fay.tryProduce('screen', { ...request, kind: 'audio' }), 'BAD_REQUEST');
    const [encoding] = request.rtpParameters.encodings!;
    const simulcast = { ...request.rtpParameters, encodings: [encoding!, { ...encoding!, ssrc: encoding!.ssrc! + 1 }] };
    expectError(await fay.tryProduce('screen', { ...request, rtpParameters: simulcast }), 'BAD_REQUEST');
    fay.forget('screen');
    expect(screensOf(watch).filter((p) => !p.closed)).toEqual([]);

    // The change recording a screen written, but its effects here failing (the worker refusing
    // the policy that follows): the screen is closed, and the state no longer records it either,
    // so it holds nobody's place (a member's share is taken afterwards).
    const routerMedia = live.media!;
    const applyPolicy = routerMedia.applyPolicy.bind(routerMedia);
    routerMedia.applyPolicy = () => {
      routerMedia.applyPolicy = applyPolicy;
      return Promise.reject(new Error('the worker failed'));
    };
    expectError(await fay.tryProduce('screen'), 'INTERNAL');
    fay.forget('screen');
    // Logged as the server's error, as it would be; made by this test, so not held against the server.
    const injected = t.logs.filter((l) => l.level === 'error' && JSON.stringify(l).includes('the worker failed'));
    expect(injected.length).toBeGreaterThan(0);
    for (const line of injected) t.logs.splice(t.logs.indexOf(line), 1);
    expect(screensOf(watch).filter((p) => !p.closed)).toEqual([]);
    await vi.waitFor(async () => expect(Object.values((await t.server.store.get(room.roomId))!.members[fac.id]!.producers).map((p) => p.source)).toEqual(['mic']), WAIT);
    await command(fac, { type: 'share.grant', memberId: mo.person.id });
    await viewWhere(mo.person, (v) => v.self.share.may);
    await mo.produce('screen');
    await flowing(lu, mo.person.id, 'screen');
  });

  it('a granted member shares with everyone; a hold on their camera leaves it; a withdrawal closes it on the server and it stops at every receiver', async () => {
    const { room, watch, media } = await shareRoom('Mo', 'Lu');
    const [fay, mo, lu] = media as [PlainPeer, PlainPeer, PlainPeer];
    const fac = room.facilitator;

    await command(mo.person, { type: 'share.ask', asking: true });
    await viewWhere(mo.person, (v) => v.self.share.asking);
    await command(fac, { type: 'share.grant', memberId: mo.person.id });
    await viewWhere(mo.person, (v) => v.self.share.may && !v.self.share.asking);
    await mo.produce('camera');
    const screen = await mo.produce('screen');
    for (const receiver of [fay, lu]) {
      await waitForOffer(receiver.person.socket, (c) => c.producerId === screen && c.source === 'screen' && c.peerId === mo.person.id);
      await flowing(receiver, mo.person.id, 'screen');
    }
    await viewWhere(lu.person, (v) => (v.members ?? []).find((m) => m.id === mo.person.id)?.sending.screen === true);
    // Someone starting media later is given the share too.
    const ivy = await admittedMember(t.server, room, fac, 'Ivy');
    const ivyCaps = await mediaJoin(ivy);
    const late = await PlainPeer.open(ivy);
    peers.push(late);
    await late.receive(ivyCaps);
    await flowing(late, mo.person.id, 'screen');

    // The camera held by the facilitator: the screen goes on (and a share leaves the camera's hold).
    await command(fac, { type: 'member.mute', memberId: mo.person.id, source: 'camera' });
    await still(() => lu.packetsFrom(mo.person.id, 'camera'), () => lu.packetsFrom(fay.person.id, 'mic'));
    await flowing(lu, mo.person.id, 'screen');

    await command(fac, { type: 'share.revoke', memberId: mo.person.id });
    // Closed on the server by the time the withdrawal is answered.
    expect(watch.producers.get(screen)?.closed).toBe(true);
    for (const receiver of [fay, lu]) await closedAt(receiver, screen);
    await still(() => fay.packetsOf(screen) + lu.packetsOf(screen), () => lu.packetsFrom(fay.person.id, 'mic'));
    const moView = await viewWhere(mo.person, (v) => !v.self.share.may);
    expect((moView.members ?? []).find((m) => m.id === mo.person.id)?.producers.some((p) => p.source === 'screen')).toBe(false);
    expectError(await mo.tryProduce('screen'), 'FORBIDDEN');
    mo.forget('screen');
  });

  it('one share at a time: a second member is refused, a facilitator\'s replaces a member\'s, two when allowed, and a stop keeps the grant', async () => {
    const { room, media } = await shareRoom('Mo', 'Lu');
    const [fay, mo, lu] = media as [PlainPeer, PlainPeer, PlainPeer];
    const fac = room.facilitator;
    for (const member of [mo, lu]) await command(fac, { type: 'share.grant', memberId: member.person.id });
    await viewWhere(lu.person, (v) => v.self.share.may);

    const moScreen = await mo.produce('screen');
    await flowing(lu, mo.person.id, 'screen');
    expectError(await lu.tryProduce('screen'), 'INVALID_STATE');
    // Lu's screen never reached anyone, though Lu's client kept sending it.
    await still(() => fay.packetsFrom(lu.person.id, 'screen') + mo.packetsFrom(lu.person.id, 'screen'), () => fay.packetsFrom(mo.person.id, 'mic'));
    expect(fay.packetsFrom(lu.person.id, 'screen') + mo.packetsFrom(lu.person.id, 'screen')).toBe(0);
    expect([...screenOffers(fay), ...screenOffers(mo)].filter((c) => c.peerId === lu.person.id)).toEqual([]);
    lu.forget('screen');

    // The facilitator's share replaces Mo's.
    const fayScreen = await fay.produce('screen');
    for (const receiver of [fay, lu]) await closedAt(receiver, moScreen);
    await still(() => lu.packetsOf(moScreen), () => lu.packetsFrom(fay.person.id, 'mic'));
    for (const receiver of [mo, lu]) {
      await flowing(receiver, fay.person.id, 'screen');
      expect(receiver.packetsOf(fayScreen)).toBeGreaterThan(0);
    }
    await viewWhere(mo.person, (v) => !(v.members ?? []).find((m) => m.id === mo.person.id)?.sending.screen && v.self.share.may);
    mo.forget('screen');

    // Two allowed: Mo's goes beside the facilitator's.
    await command(fac, { type: 'share.setPolicy', maxShares: 2, allowWholeScreen: false });
    const moAgain = await mo.produce('screen');
    await flowing(lu, mo.person.id, 'screen');
    await flowing(lu, fay.person.id, 'screen');

    // A stop closes Mo's share; the grant stays, and the facilitator's share goes on.
    await command(fac, { type: 'share.stop', memberId: mo.person.id });
    for (const receiver of [fay, lu]) await closedAt(receiver, moAgain);
    await still(() => lu.packetsOf(moAgain), () => lu.packetsFrom(fay.person.id, 'mic'));
    await flowing(lu, fay.person.id, 'screen');
    expect(currentView(mo.person).self.share.may).toBe(true);
    mo.forget('screen');

    // Only a facilitator's share can replace another: back to one, and Lu is refused again.
    await command(fac, { type: 'share.setPolicy', maxShares: 1, allowWholeScreen: false });
    expectError(await lu.tryProduce('screen'), 'INVALID_STATE');
    lu.forget('screen');
  });

  it('a share outlives a dropped connection (resumed, it goes on); starting media afresh ends it, the grant stays', async () => {
    const { server } = t;
    const { room, media } = await shareRoom('Mo', 'Lu');
    const [fay, mo, lu] = media as [PlainPeer, PlainPeer, PlainPeer];
    await command(room.facilitator, { type: 'share.grant', memberId: mo.person.id });
    await viewWhere(mo.person, (v) => v.self.share.may);
    const screen = await mo.produce('screen');
    await flowing(lu, mo.person.id, 'screen');

    await drop(server, mo.person);
    await flowing(lu, mo.person.id, 'screen');
    const back = await resume(server, mo.person);
    mo.rebind(back);
    expect(back.entered.self.share.may).toBe(true);
    expect((back.entered.members ?? []).find((m) => m.id === back.id)?.producers.map((p) => p.id)).toContain(screen);
    await flowing(lu, mo.person.id, 'screen');
    await flowing(fay, mo.person.id, 'screen');

    // A reload starts media afresh: the old page's share goes, the grant stays.
    await ok(back.socket, 'media:join', {});
    for (const receiver of [fay, lu]) await closedAt(receiver, screen);
    const view = await viewWhere(back, (v) => !(v.members ?? []).find((m) => m.id === back.id)?.sending.screen);
    expect(view.self.share.may).toBe(true);
    mo.stop();
  });
});
