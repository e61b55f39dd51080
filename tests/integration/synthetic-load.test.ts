import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRoomWithSecrets } from '../support/synthetic-keys.js';
import { RtpSink, SyntheticMember } from '../support/synthetic-member.js';
import { connect, createRoom, expectError, ok, request, useServer, WAIT, watchMedia } from '../support/signal-client.js';

/*
 * The load generator's small, quick variant (#11 item 6), as a correctness check only: four
 * synthetic members in one room send audio and video through the real path (plain RTP
 * transports, SYNTHETIC_MEDIA=true), every member receives every other member's two streams
 * with nothing lost, and once everyone has left the server holds nothing. No timings. The
 * members take part in the end-to-end encryption key handshake as browsers do, and what they
 * receive is sealed frames that the key leader's keys open. A simulcast member's camera moves
 * from layer to layer as a receiver's tile asks: its RTCP sender reports let mediasoup switch.
 */

/** A looped VP8-shaped layer `height` px tall (16:9): 30 frames, the first a key frame (tag, start code, size), the rest delta frames. */
function layer(height: number): Buffer[] {
  const width = Math.round((height * 16) / 9);
  const key = Buffer.alloc(200);
  key.set([0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, width & 0xff, width >> 8, height & 0xff, height >> 8]);
  const delta = Buffer.alloc(100);
  delta.set([0x11, 0x02, 0x00]);
  return Array.from({ length: 30 }, (_, i) => (i === 0 ? key : delta));
}

/** A received packet's payload (these have no CSRCs; mediasoup's header extensions are skipped). */
function payloadOf(packet: Buffer): Buffer {
  let offset = 12 + 4 * (packet[0]! & 0x0f);
  if (packet[0]! & 0x10) offset += 4 + 4 * packet.readUInt16BE(offset + 2);
  return packet.subarray(offset);
}

/** Whole frames from received RTP: audio packets as they are, VP8 packets joined by SSRC and timestamp (after each one-byte descriptor). */
function framesOf(packets: Buffer[]): { audio: Buffer[]; video: Buffer[] } {
  const audio: Buffer[] = [];
  const video = new Map<string, { seq: number; marker: boolean; start: boolean; payload: Buffer }[]>();
  for (const packet of packets) {
    const pt = packet[1]! & 0x7f;
    if (pt >= 72 && pt <= 79) continue; // RTCP
    const payload = payloadOf(packet);
    if (payload[0] === 0x78) {
      audio.push(payload); // the Opus TOC the members send (clear)
      continue;
    }
    const key = `${packet.readUInt32BE(8)}/${packet.readUInt32BE(4)}`;
    const parts = video.get(key) ?? [];
    parts.push({ seq: packet.readUInt16BE(2), marker: (packet[1]! & 0x80) !== 0, start: (payload[0]! & 0x10) !== 0, payload: payload.subarray(1) });
    video.set(key, parts);
  }
  const whole = [...video.values()]
    .map((parts) => parts.sort((a, b) => a.seq - b.seq))
    .filter((parts) => parts[0]!.start && parts.at(-1)!.marker && parts.every((p, i) => i === 0 || p.seq - parts[i - 1]!.seq === 1))
    .map((parts) => Buffer.concat(parts.map((p) => p.payload)));
  return { audio, video: whole };
}

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
    const links = await createRoomWithSecrets(server.url, { title: 'Load check' });
    const host = await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.facilitatorToken, secret: links.facilitatorSecret, name: 'Host', sink });
    members.push(host);
    await ok(host.socket as never, 'room:command', { command: { type: 'room.setAutoAdmit', enabled: true } });
    for (const name of ['M1', 'M2', 'M3']) members.push(await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.inviteToken, secret: links.inviteSecret, name, sink }));
    for (const member of members) member.start();
    // Everyone ends up sealing under the key the leader (the host) uses now.
    await vi.waitFor(() => expect(new Set(members.map((m) => JSON.stringify(m.keys.frames.sending))).size).toBe(1), { timeout: 15_000, interval: 100 });
    expect(host.keys.frames.sending).not.toBeNull();

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

    // What arrives is sealed, and opens with the leader's keys as one of the members' frames.
    const captured: Buffer[] = [];
    const capture = (packet: Buffer) => captured.push(packet);
    for (const member of members) member.start();
    sink.socket.on('message', capture);
    await new Promise((resolve) => setTimeout(resolve, 500));
    sink.socket.off('message', capture);
    for (const member of members) member.stop();
    const { audio, video } = framesOf(captured);
    expect(audio.length).toBeGreaterThan(12 * 10);
    expect(video.length).toBeGreaterThan(12 * 5);
    const ids = members.map((m) => m.id);
    const opened = async (frame: Buffer, codec: 'opus' | 'vp8') => {
      for (const id of ids) {
        const result = await host.keys.frames.open(frame, codec, id);
        if ('frame' in result) return result.frame;
      }
      return null;
    };
    for (const frame of audio) {
      // TOC ‖ SFrame header ‖ 89 bytes sealed ‖ 16-byte tag: not the 89 zeros sent.
      expect(frame.length).toBeGreaterThanOrEqual(1 + 2 + 89 + 16);
      expect(frame.subarray(1).some((b) => b !== 0)).toBe(true);
      const plain = await opened(frame, 'opus');
      expect(plain && Buffer.from(plain).equals(Buffer.concat([Buffer.from([0x78]), Buffer.alloc(89)]))).toBe(true);
    }
    for (const frame of video) {
      const plain = await opened(frame, 'vp8');
      expect(plain?.[0]).toBe(frame[0]); // the VP8 frame tag stays clear
      expect(plain!.subarray(10).every((b) => b === 0)).toBe(true);
    }

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
      const links = await createRoomWithSecrets(server.url, { title: 'Weak connection' });
      const host = await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.facilitatorToken, secret: links.facilitatorSecret, name: 'Host', sink });
      members.push(host);
      await ok(host.socket as never, 'room:command', { command: { type: 'room.setAutoAdmit', enabled: true } });
      // Weak receives into a sink of its own, so what reaches it can be told apart.
      const weak = await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.inviteToken, secret: links.inviteSecret, name: 'Weak', sink: own });
      members.push(weak, await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.inviteToken, secret: links.inviteSecret, name: 'Other', sink }));
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

  it('a simulcast member\'s camera changes layer when a receiver prefers a smaller tile (its sender reports line the layers up)', async () => {
    const { server } = t;
    sink = await RtpSink.open();
    const links = await createRoomWithSecrets(server.url, { title: 'Layers' });
    const host = await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.facilitatorToken, secret: links.facilitatorSecret, name: 'Host', sink, layers: [layer(90), layer(180), layer(360)] });
    members.push(host);
    await ok(host.socket as never, 'room:command', { command: { type: 'room.setAutoAdmit', enabled: true } });
    const media = watchMedia(server, links.roomId);
    const viewer = await SyntheticMember.join({ url: server.url, roomId: links.roomId, token: links.inviteToken, secret: links.inviteSecret, name: 'Viewer', sink });
    members.push(viewer);
    for (const member of members) member.start();
    // The viewer's consumer of the host's camera: said no tile height, it starts on the top layer.
    const camera = await vi.waitFor(() => {
      const found = [...media.consumers.values()].find((c) => c.type === 'simulcast');
      if (!found) throw new Error('no simulcast consumer yet');
      return found;
    }, WAIT);
    await vi.waitFor(() => expect(camera.currentLayers?.spatialLayer).toBe(2), { timeout: 15_000, interval: 100 });

    await ok(viewer.socket as never, 'consumer:prefer', { consumerId: camera.id, visible: true, height: 90 });
    await vi.waitFor(() => expect(camera.currentLayers?.spatialLayer).toBe(0), { timeout: 10_000, interval: 100 });
    await ok(viewer.socket as never, 'consumer:prefer', { consumerId: camera.id, visible: true, height: 360 });
    await vi.waitFor(() => expect(camera.currentLayers?.spatialLayer).toBe(2), { timeout: 10_000, interval: 100 });
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
