import { randomBytes } from 'node:crypto';
import type { MediaSource } from '@group-room/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { flowing, openMediaRoom, still, type PlainPeer } from './plain-peer.js';
import { bothStores, command, drop, expectError, resume, tryCommand, useRedis, useServer, viewWhere } from '../support/signal-client.js';

/*
 * Taking a member aside on the media server (issue 19), through a real signal server and a
 * real mediasoup worker, with media sent and counted over plain RTP (plain-peer.ts): while a
 * facilitator has a member aside, nothing flows between the two and the group, in either
 * direction (counted in packets at every receiver), the two still hear and see each other, the
 * group goes on among itself, and everything flows again after the return, on the same
 * transports. The floor does not hold the aside member's microphone. An aside outlives the
 * member's dropped connection. Both stores.
 */

const prefix = `group-room-itest-aside:${process.pid}:${randomBytes(6).toString('hex')}:`;

describe.each(bothStores(prefix))('take aside on the media server ($store store)', ({ env }) => {
  if (env['REDIS_URL']) useRedis(prefix);
  const t = useServer({ ...env, SYNTHETIC_MEDIA: 'true' });
  const peers: PlainPeer[] = [];

  afterEach(() => {
    for (const peer of peers.splice(0)) peer.close();
  });

  /** Fay (facilitator) and Cora (co-facilitator) with members Mo and Lu, each sending a microphone and a camera. */
  async function asideRoom() {
    const { room, media } = await openMediaRoom(t.server, ['Cora', 'Mo', 'Lu'], ['mic', 'camera'], peers);
    const [fay, cora, mo, lu] = media as [PlainPeer, PlainPeer, PlainPeer, PlainPeer];
    await command(fay.person, { type: 'member.setRole', memberId: cora.person.id, role: 'cofacilitator' });
    await allFlow(media, media);
    return { room, fay, cora, mo, lu, everyone: media };
  }

  /**
   * Everything (or `source`) from each of `senders` has stopped at `receiver`, while the
   * control stream (`control`'s microphone, or another source) goes on arriving there.
   */
  async function cutOff(receiver: PlainPeer, senders: readonly PlainPeer[], control: [PlainPeer, MediaSource], source?: MediaSource): Promise<void> {
    await still(
      () => senders.reduce((sum, sender) => sum + receiver.packetsFrom(sender.person.id, source), 0),
      () => receiver.packetsFrom(control[0].person.id, control[1]),
    );
  }

  /** Both sources flow from each sender to each receiver (but themselves). */
  async function allFlow(receivers: readonly PlainPeer[], senders: readonly PlainPeer[]): Promise<void> {
    const pairs = receivers.flatMap((receiver) => senders.filter((sender) => sender !== receiver).map((sender) => [receiver, sender] as const));
    await Promise.all(pairs.flatMap(([receiver, sender]) => [flowing(receiver, sender.person.id, 'mic'), flowing(receiver, sender.person.id, 'camera')]));
  }

  it('the group receives nothing from the two and the two nothing from the group, both ways; the two hear each other; all flows after the return', async () => {
    const { fay, cora, mo, lu, everyone } = await asideRoom();

    await command(fay.person, { type: 'aside.start', memberId: mo.person.id });
    // The group (Cora, Lu) gets nothing from Fay and Mo; Fay and Mo nothing from the group.
    await Promise.all([
      cutOff(cora, [fay, mo], [lu, 'mic']),
      cutOff(lu, [fay, mo], [cora, 'mic']),
      cutOff(fay, [cora, lu], [mo, 'mic']),
      cutOff(mo, [cora, lu], [fay, 'mic']),
    ]);
    // The two hear and see each other; the group goes on among itself (the co-facilitator holds it).
    await allFlow([fay, mo], [fay, mo]);
    await allFlow([cora, lu], [cora, lu]);
    const seen = await viewWhere(lu.person, (v) => v.aside?.memberId === mo.person.id);
    expect(seen.aside?.facilitatorId).toBe(fay.person.id);

    // Only the two (or a facilitator) may end it.
    expectError(await tryCommand(lu.person, { type: 'aside.end' }), 'FORBIDDEN');
    await command(mo.person, { type: 'aside.end' });
    await allFlow(everyone, everyone);
  });

  it('the floor does not hold the aside member\'s microphone; their drop and resume keep the aside', async () => {
    const { server } = t;
    const { fay, cora, mo, lu, everyone } = await asideRoom();
    await command(fay.person, { type: 'floor.setMode', mode: 'hands' });
    // Hands up: the members' microphones are held (their cameras go on).
    await cutOff(fay, [mo, lu], [cora, 'mic'], 'mic');

    await command(cora.person, { type: 'aside.start', memberId: mo.person.id });
    await flowing(cora, mo.person.id, 'mic');
    await Promise.all([cutOff(fay, [cora, mo], [lu, 'camera']), cutOff(lu, [cora, mo], [fay, 'mic'])]);

    await drop(server, mo.person);
    const back = await resume(server, mo.person);
    mo.rebind(back);
    expect(back.entered.aside).toEqual(expect.objectContaining({ facilitatorId: cora.person.id, memberId: mo.person.id }));
    await flowing(cora, mo.person.id, 'mic');
    await flowing(mo, cora.person.id, 'camera');
    await Promise.all([cutOff(fay, [cora, mo], [lu, 'camera']), cutOff(lu, [cora, mo], [fay, 'mic'])]);

    await command(fay.person, { type: 'aside.end' });
    // Back in the group, under the floor again: Mo's camera reaches everyone, the microphone waits for a turn.
    await Promise.all([allFlow([fay, lu], [cora]), flowing(fay, mo.person.id, 'camera'), flowing(lu, mo.person.id, 'camera')]);
    await cutOff(fay, [mo, lu], [cora, 'mic'], 'mic');
    await command(fay.person, { type: 'floor.setMode', mode: 'open' });
    await allFlow(everyone, everyone);
  });
});
