import { afterEach, describe, expect, it, vi } from 'vitest';
import { RtpSink, SyntheticMember } from '../support/synthetic-member.js';
import { connect, createRoom, expectError, ok, request, useServer, WAIT } from '../support/signal-client.js';

/*
 * The load generator's small, quick variant (#11 item 6), as a correctness check only: four
 * synthetic members in one room send audio and video through the real path (plain RTP
 * transports, SYNTHETIC_MEDIA=true), every member receives every other member's two streams
 * with nothing lost, and once everyone has left the server holds nothing. No timings.
 */

describe('synthetic members (load generator, small)', () => {
  const t = useServer({ SYNTHETIC_MEDIA: 'true' });
  const members: SyntheticMember[] = [];
  let sink: RtpSink | undefined;

  afterEach(async () => {
    for (const member of members.splice(0)) await member.leave();
    sink?.close();
    sink = undefined;
  });

  it('four members each receive the other three\'s audio and video, losing nothing; nothing is left after they leave', async () => {
    const { server } = t;
    sink = await RtpSink.open();
    const links = await createRoom(server, { title: 'Load check' });
    const host = await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.facilitatorToken, name: 'Host', sink });
    members.push(host);
    await ok(host.socket as never, 'room:command', { command: { type: 'room.setAutoAdmit', enabled: true } });
    for (const name of ['M1', 'M2', 'M3']) members.push(await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.inviteToken, name, sink }));
    for (const member of members) member.start();

    // 4 members × 3 others × (audio + video) streams, each flowing.
    await vi.waitFor(() => expect(sink!.totals().streams).toBe(24), { timeout: 15_000, interval: 100 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    sink.reset(); // from here on, a clean window
    await new Promise((resolve) => setTimeout(resolve, 3000));
    for (const member of members) member.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const totals = sink.totals();
    expect(totals.streams).toBe(24);
    expect(totals.lost, JSON.stringify(totals)).toBe(0);
    expect(totals.packets).toBeGreaterThan(24 * 50);

    const loads = server.pool.loads[0]!;
    expect({ producers: loads.producers, consumers: loads.consumers, transports: loads.transports }).toEqual({ producers: 8, consumers: 24, transports: 8 });
    for (const member of members.splice(0)) await member.leave();
    await vi.waitFor(() => expect(server.rooms.mediaCount).toBe(0), WAIT);
    expect(server.pool.loads[0]).toMatchObject({ routers: 0, transports: 0, producers: 0, consumers: 0 });
  });

  it('audio only: the server stops sending one member video and keeps its audio, then sends video again when asked', async () => {
    const { server } = t;
    sink = await RtpSink.open();
    const own = await RtpSink.open();
    try {
      const links = await createRoom(server, { title: 'Weak connection' });
      const host = await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.facilitatorToken, name: 'Host', sink });
      members.push(host);
      await ok(host.socket as never, 'room:command', { command: { type: 'room.setAutoAdmit', enabled: true } });
      // Weak receives into a sink of its own, so what reaches it can be told apart.
      const weak = await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.inviteToken, name: 'Weak', sink: own });
      members.push(weak, await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.inviteToken, name: 'Other', sink }));
      for (const member of members) member.start();
      await vi.waitFor(() => expect(own.totals().streams).toBe(4), { timeout: 15_000, interval: 100 });

      /** Packets reaching Weak over 1.5 s, split into audio-sized and video-sized ones. */
      const window = async () => {
        own.reset();
        await new Promise((resolve) => setTimeout(resolve, 1500));
        return own.totals();
      };
      const before = await window();
      expect(before.streams).toBe(4);
      await ok(weak.socket as never, 'media:receiveVideo', { video: false });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const audioOnly = await window();
      // Two audio streams still flow; no video stream does.
      expect(audioOnly.streams).toBe(2);
      expect(audioOnly.bytes).toBeLessThan(before.bytes / 3);
      await ok(weak.socket as never, 'media:receiveVideo', { video: true });
      await vi.waitFor(async () => expect((await window()).streams).toBe(4), { timeout: 10_000, interval: 100 });
    } finally {
      own.close();
    }
  });

  it('plain transports are refused unless the server is started for load tests', async () => {
    // This server allows them; the check that a normal one refuses is in the fuzz and the
    // protocol: here, a member who has not started media cannot make one either.
    const links = await createRoom(t.server);
    const socket = await connect(t.server);
    await ok(socket, 'room:enter', { roomId: links.roomId, token: links.facilitatorToken, displayName: 'Fay' });
    expectError(await request(socket, 'transport:createPlain', { direction: 'send' }), 'INVALID_STATE');
  });
});

describe('a server not started for load tests', () => {
  const t = useServer();
  it('refuses plain transports (FORBIDDEN)', async () => {
    const links = await createRoom(t.server);
    const socket = await connect(t.server);
    await ok(socket, 'room:enter', { roomId: links.roomId, token: links.facilitatorToken, displayName: 'Fay' });
    await ok(socket, 'media:join', {});
    expectError(await request(socket, 'transport:createPlain', { direction: 'send' }), 'FORBIDDEN');
  });
});
