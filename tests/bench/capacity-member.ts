import { MAX_CONSUMER_BATCH, type RequestName, type RequestPayload, type ResponseData, type RtpCapabilities } from '@group-room/shared';
import { io } from 'socket.io-client';
import { ask as askOnce, RequestFailed, type Client } from '../support/synthetic-keys.js';
import { RtpSource } from '../support/synthetic-member.js';

/*
 * A member of our server for bench:capacity: the real way in (Socket.IO, the agreement,
 * auto-admit, media:join, media:ready, consumers:resume) with plain RTP transports
 * (SYNTHETIC_MEDIA=true), but what it receives goes where the bench says (a hole or a sampled
 * sink) and it asks for consumers with the receive capabilities the bench says (with or without
 * RTCP feedback), with or without SRTP on what it is sent. It sends nothing itself: a generator
 * process sends its RTP. It takes no part in the key handshake: the generator seals with keys
 * of its own, and the SFU cannot tell.
 */

export interface PlainMember {
  socket: Client;
  /** The server's port for this member's RTP (its plain send transport, comedia). */
  sendPort: number;
  audioSsrc: number;
  videoSsrc: number;
  leave(): Promise<void>;
}

export interface PlainMemberOptions {
  url: string;
  roomId: string;
  token: string;
  name: string;
  /** Where the server sends this member's streams. */
  receivePort: number;
  /** The capabilities this member receives with, from the router's. */
  receive: (router: RtpCapabilities) => RtpCapabilities;
  /** What the server sends this member is encrypted with SRTP, as a browser's is. */
  srtp: boolean;
  videoKbps: number;
}

/** A request, tried again while the server says the room is busy (members of a room join at once here). */
async function ask<K extends RequestName>(socket: Client, name: K, payload: RequestPayload<K>): Promise<ResponseData<K>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await askOnce(socket, name, payload);
    } catch (error) {
      if (!(error instanceof RequestFailed) || error.code !== 'UNAVAILABLE' || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200));
    }
  }
}

async function resume(socket: Client, consumerIds: string[]): Promise<void> {
  for (let at = 0; at < consumerIds.length; at += MAX_CONSUMER_BATCH) {
    await ask(socket, 'consumers:resume', { consumers: consumerIds.slice(at, at + MAX_CONSUMER_BATCH).map((consumerId) => ({ consumerId })) });
  }
}

async function mediaJoin(socket: Client, deadline: number): Promise<ResponseData<'media:join'>> {
  for (;;) {
    try {
      return await ask(socket, 'media:join', {});
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export async function joinPlain(options: PlainMemberOptions): Promise<PlainMember> {
  const socket: Client = io(options.url, { transports: ['websocket'], forceNew: true, reconnection: false, query: { room: options.roomId } });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  // Producers that appear later are announced one by one.
  socket.on('consumer:new', ({ consumerId }) => void ask(socket, 'consumer:resume', { consumerId }).catch(() => undefined));
  const { view } = await ask(socket, 'room:enter', { roomId: options.roomId, token: options.token, displayName: options.name });
  if (view.self.role === 'member') {
    await ask(socket, 'room:command', { command: { type: 'agreement.acknowledge', version: view.agreement.version, privateSpace: true } });
  }
  // Auto-admit lets a member in once it has agreed: media:join is refused until then.
  const joined = await mediaJoin(socket, Date.now() + 15_000);
  const recv = await ask(socket, 'transport:createPlain', { direction: 'recv', ...(options.srtp ? { srtp: true } : {}) });
  await ask(socket, 'transport:connectPlain', { transportId: recv.id, ip: '127.0.0.1', port: options.receivePort });
  const ready = await ask(socket, 'media:ready', { rtpCapabilities: options.receive(joined.routerRtpCapabilities) });
  await resume(socket, ready.consumers.map((c) => c.consumerId));
  const send = await ask(socket, 'transport:createPlain', { direction: 'send' });
  // The SSRCs and parameters a synthetic source declares; the generator sends with the same.
  const source = new RtpSource(options.videoKbps);
  for (const kind of ['audio', 'video'] as const) {
    await ask(socket, 'media:produce', { transportId: send.id, kind, source: kind === 'audio' ? 'mic' : 'camera', rtpParameters: source.rtpParameters(kind), paused: false });
  }
  return {
    socket,
    sendPort: send.port,
    audioSsrc: source.audioSsrc,
    videoSsrc: source.videoSsrc,
    async leave() {
      await ask(socket, 'room:leave', {}).catch(() => undefined);
      socket.disconnect();
    },
  };
}

/**
 * Forwarding only: the router's capabilities without any RTCP feedback (no NACK, PLI, FIR,
 * transport-cc, REMB) nor the header extensions only feedback uses, so a consumer keeps no
 * retransmission buffer and runs no bandwidth estimation.
 */
export function withoutFeedback(capabilities: RtpCapabilities): RtpCapabilities {
  const codecs = (capabilities.codecs ?? []).map((codec) => ({ ...codec, rtcpFeedback: [] }));
  const headerExtensions = ((capabilities as { headerExtensions?: { uri: string }[] }).headerExtensions ?? []).filter((e) => !/transport-wide-cc|abs-send-time/.test(e.uri));
  return { ...capabilities, codecs, headerExtensions };
}
