import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { Agent } from 'node:https';
import type { ClientToServerEvents, ConsumerOffer, RequestName, RequestPayload, ResponseData, Result, ServerToClientEvents } from '@group-room/shared';
import type { DecryptFrameResult, FrameCodec, KeyRef, LinkSecret } from '@group-room/shared/e2ee';
import { io, type Socket } from 'socket.io-client';
import { SyntheticKeys } from '../support/synthetic-keys.js';
import { RtpSource } from '../support/synthetic-member.js';

/*
 * A synthetic member that behaves like the web client under trouble (the shared load-test
 * member, tests/support/synthetic-member.ts, gives up on the first drop): it connects through
 * the proxy with its room in the handshake and follows an ELSEWHERE refusal to the node
 * named; when its connection drops it reconnects with backoff and takes its seat back with
 * its resume credential (`room:resume`), then resyncs its media or, if the node no longer has
 * it, builds it again (`media:join`), as after `media:reset`. It sends RTP (audio and
 * VP8-shaped video) and counts what it receives per sender and per source port: the source
 * port tells which node's mediasoup worker forwarded a packet.
 *
 * Like a browser it takes part in the end-to-end encryption key handshake with its invite
 * link's secret (SyntheticKeys: the web client's KeyExchange) and seals every frame before
 * packetizing it; nothing goes out before it has a key in use. The handshake is the member's,
 * not a connection's: each new socket is attached to it, and after a resume it hellos the
 * facilitators again so the leader catches it up on a key switch it missed. A few of the
 * frames it receives are opened with the keys it holds (see MemberHooks.opened).
 */

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
export type Kind = 'audio' | 'video';
export type MemberState = 'joining' | 'in' | 'away' | 'removed' | 'ended' | 'lost' | 'closed';

const ASK_TIMEOUT_MS = 8000;
const FPS = 30;
/** At most one received frame per sender and kind is opened this often (ms). */
const OPEN_EVERY_MS = 250;

export class AskError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** Send a request and wait for its answer; AskError with the protocol's code, DISCONNECTED or TIMEOUT. */
export async function ask<K extends RequestName>(socket: Client, name: K, payload: RequestPayload<K>, timeoutMs = ASK_TIMEOUT_MS): Promise<ResponseData<K>> {
  let result: Result<ResponseData<K>>;
  try {
    result = (await (socket as unknown as Socket).timeout(timeoutMs).emitWithAck(name, payload)) as Result<ResponseData<K>>;
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new AskError(socket.connected ? 'TIMEOUT' : 'DISCONNECTED', `${name}: ${text}`);
  }
  if (!result.ok) throw new AskError(result.error.code, `${name}: ${result.error.message}`);
  return result.data;
}

export const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What the harness learns from a member as it goes. */
export interface MemberHooks {
  /** A media packet from `peerId` reached this member (from a worker's `sourcePort`). */
  packet(member: ChaosMember, peerId: string, kind: Kind, at: number): void;
  /** Its seat was refused on resume: `early` if that was before the grace period could have ended. */
  seatLost(member: ChaosMember, detail: string, early: boolean): void;
  /** Whether this member's seat is meant to be gone (its session ended, or it was removed): a refused resume is then how it learns so. */
  ending(member: ChaosMember): boolean;
  /** A frame from `peerId` that arrived `at` was opened with this member's keys (a sample: see OPEN_EVERY_MS). */
  opened(member: ChaosMember, peerId: string, kind: Kind, at: number, result: DecryptFrameResult): void;
}

/**
 * The whole frame an RTP packet carries, if it carries one whole: an Opus packet, or a VP8
 * frame that fits in one packet (its descriptor's S bit and the marker set; larger frames,
 * like the browser's video, are left out).
 */
export function wholeFrame(packet: Buffer, kind: Kind): Uint8Array | undefined {
  const first = packet[0]!;
  let offset = 12 + 4 * (first & 0x0f);
  if (first & 0x10) {
    if (packet.length < offset + 4) return undefined;
    offset += 4 + 4 * packet.readUInt16BE(offset + 2);
  }
  const end = first & 0x20 ? packet.length - packet[packet.length - 1]! : packet.length;
  if (offset >= end) return undefined;
  if (kind === 'audio') return packet.subarray(offset, end);
  const marker = (packet[1]! & 0x80) !== 0;
  const descriptor = packet[offset]!;
  // S bit, partition 0, and the end of the frame in this same packet.
  if (!marker || (descriptor & 0x1f) !== 0x10) return undefined;
  let at = offset + 1;
  if (descriptor & 0x80) {
    const ext = packet[at++]!;
    if (ext & 0x80) at += packet[at]! & 0x80 ? 2 : 1; // picture id
    if (ext & 0x40) at += 1; // TL0PICIDX
    if (ext & 0x30) at += 1; // TID / KEYIDX
  }
  return at < end ? packet.subarray(at, end) : undefined;
}

export interface MemberOptions {
  url: string;
  agent: Agent;
  roomId: string;
  inviteToken: string;
  name: string;
  /** The invite link's secret (its fragment's `i=`). */
  secret: LinkSecret;
  graceSeconds: number;
  hooks: MemberHooks;
  videoKbps?: number;
}

export class ChaosMember {
  readonly name: string;
  state: MemberState = 'joining';
  memberId: string | undefined;
  /** When its connection dropped (client's clock), while it is away. */
  awaySince: number | undefined;
  ended: { reason: string; at: number } | undefined;
  /** Last arrival (ms) of a media packet per `${peerId}:${kind}`. */
  readonly lastFrom = new Map<string, number>();
  /** Packets per source port since the harness last took them (see takePortCounts). */
  #portCounts = new Map<number, number>();
  #gapMark = Infinity;
  readonly #gaps = new Map<string, number>();
  readonly source: RtpSource;
  /** Its part in the key handshake, across all its connections, and the keys it seals and opens with. */
  keys: SyntheticKeys;
  /** When a frame was last opened per `${peerId}:${kind}` (see OPEN_EVERY_MS). */
  readonly #openedAt = new Map<string, number>();
  /** Handshakes of seats it entered and could not get through with (see join). */
  readonly #spentKeys: SyntheticKeys[] = [];
  readonly #options: MemberOptions;
  readonly #send: UdpSocket;
  readonly #recv: UdpSocket;
  #socket: Client | undefined;
  #credential: string | undefined;
  #hint: string | undefined;
  #target: { ip: string; port: number } | undefined;
  readonly #routes = new Map<number, { peerId: string; kind: Kind; rtx: boolean }>();
  #timers: NodeJS.Timeout[] = [];
  #closing = false;
  #resuming = false;
  #offlineUntil = 0;
  #media: Promise<void> = Promise.resolve();
  /** Resumes that succeeded, and media rebuilds from nothing. */
  resumes = 0;
  rebuilds = 0;

  private constructor(options: MemberOptions, send: UdpSocket, recv: UdpSocket) {
    this.#options = options;
    this.name = options.name;
    this.keys = new SyntheticKeys(undefined, options.roomId, options.secret);
    this.source = new RtpSource(options.videoKbps ?? 100, { seal: (frame, codec) => this.keys.frames.seal(frame, codec) });
    this.#send = send;
    this.#recv = recv;
    recv.on('message', (packet, from) => this.#count(packet, from.port));
  }

  static async create(options: MemberOptions): Promise<ChaosMember> {
    const send = createSocket('udp4');
    const recv = createSocket('udp4');
    await new Promise<void>((resolve) => send.bind(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => recv.bind(0, '127.0.0.1', resolve));
    recv.setRecvBufferSize(4 * 1024 * 1024);
    return new ChaosMember(options, send, recv);
  }

  get connected(): boolean {
    return this.#socket?.connected ?? false;
  }

  /** From `at` on, note the longest pause between two packets of each stream (see gap). */
  markGaps(at: number): void {
    this.#gapMark = at;
    this.#gaps.clear();
  }

  /** The longest pause in `${peerId}:${kind}` since markGaps (ms), counting one still going on at `now`. */
  gap(key: string, now = Date.now()): number {
    const last = this.lastFrom.get(key);
    return Math.max(this.#gaps.get(key) ?? 0, last === undefined ? 0 : now - last);
  }

  /** Packets received per source port since the last call. */
  takePortCounts(): Map<number, number> {
    const counts = this.#portCounts;
    this.#portCounts = new Map();
    return counts;
  }

  #count(packet: Buffer, fromPort: number): void {
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return;
    const pt = packet[1]! & 0x7f;
    if (pt >= 72 && pt <= 79) return; // RTCP
    if (pt === 127) return; // mediasoup's probation padding: nobody's media
    this.#portCounts.set(fromPort, (this.#portCounts.get(fromPort) ?? 0) + 1);
    const route = this.#routes.get(packet.readUInt32BE(8));
    if (!route) return;
    const at = Date.now();
    const key = `${route.peerId}:${route.kind}`;
    const prev = this.lastFrom.get(key);
    if (prev !== undefined && at >= this.#gapMark && at - prev > (this.#gaps.get(key) ?? 0)) this.#gaps.set(key, at - prev);
    this.lastFrom.set(key, at);
    this.#options.hooks.packet(this, route.peerId, route.kind, at);
    if (!route.rtx && at - (this.#openedAt.get(key) ?? 0) >= OPEN_EVERY_MS) this.#open(packet, route.peerId, route.kind, at);
  }

  /** Open a received frame with the keys this member holds now, and tell the harness how it went. */
  #open(packet: Buffer, peerId: string, kind: Kind, at: number): void {
    const frame = wholeFrame(packet, kind);
    if (!frame) return;
    this.#openedAt.set(`${peerId}:${kind}`, at);
    const codec: FrameCodec = kind === 'audio' ? 'opus' : 'vp8';
    // A copy: the packet's buffer is the socket's.
    void this.keys.frames.open(Uint8Array.from(frame), codec, peerId).then(
      (result) => {
        if (!this.#closing) this.#options.hooks.opened(this, peerId, kind, at, result);
      },
      () => undefined,
    );
  }

  /** Connect through the proxy for the room, following ELSEWHERE refusals; undefined after a few failures. */
  async #connect(): Promise<Client | undefined> {
    const { url, agent, roomId } = this.#options;
    let hint = this.#hint;
    let repeats = 0;
    for (let attempt = 0; attempt < 10 && !this.#closing; attempt++) {
      const socket: Client = io(url, {
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        timeout: 5000,
        query: { room: roomId, ...(hint ? { node: hint } : {}) },
        ...({ agent } as object),
      });
      const outcome = await new Promise<{ ok: true } | { ok: false; node?: string }>((resolve) => {
        socket.once('connect', () => resolve({ ok: true }));
        socket.once('connect_error', (error) => {
          const data = (error as { data?: { code?: unknown; node?: unknown } }).data;
          resolve(data?.code === 'ELSEWHERE' && typeof data.node === 'string' ? { ok: false, node: data.node } : { ok: false });
        });
      });
      if (outcome.ok) {
        this.#hint = hint;
        this.#attach(socket);
        return socket;
      }
      socket.close();
      if (outcome.node) {
        repeats = outcome.node === hint ? repeats + 1 : 0;
        hint = outcome.node;
        if (repeats > 0) await pause(Math.min(500 * 2 ** (repeats - 1), 2000));
      } else {
        await pause(300 + Math.random() * 700);
      }
    }
    return undefined;
  }

  #attach(socket: Client): void {
    this.#socket = socket;
    // The handshake's messages go through this connection from now on, and its views and relays come in.
    this.keys.attach(socket);
    socket.on('consumer:new', (offer) => {
      this.#route(offer);
      void ask(socket, 'consumer:resume', { consumerId: offer.consumerId }).catch(() => undefined);
    });
    socket.on('room:ended', ({ reason }) => {
      if (socket !== this.#socket) return;
      this.ended = { reason, at: Date.now() };
      if (reason === 'removed') this.state = 'removed';
      else if (reason === 'session-ended') this.state = 'ended';
    });
    socket.on('media:reset', () => {
      if (socket === this.#socket && this.state === 'in') this.#queueMedia(() => this.#buildMedia());
    });
    socket.on('disconnect', () => {
      if (socket !== this.#socket || this.#closing) return;
      // While joining, join() itself tries again; once in, the seat is resumed.
      if (this.state === 'in') {
        this.state = 'away';
        this.awaySince ??= Date.now();
        void this.#resume();
      }
    });
  }

  /** What arrives with this consumer's SSRCs (media and RTX) is its sender's. */
  #route({ peerId, kind, rtpParameters }: ConsumerOffer): void {
    for (const encoding of rtpParameters.encodings ?? []) {
      const { ssrc, rtx } = encoding as { ssrc?: unknown; rtx?: { ssrc?: unknown } };
      if (typeof ssrc === 'number') this.#routes.set(ssrc, { peerId, kind, rtx: false });
      if (typeof rtx?.ssrc === 'number') this.#routes.set(rtx.ssrc, { peerId, kind, rtx: true });
    }
  }

  /** Enter with the invite link (agreeing, auto-admitted), start media and send (from its first key on: see keyed). */
  async join(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await this.#enter();
        break;
      } catch (error) {
        this.#socket?.close();
        if (Date.now() > deadline || this.#closing) throw error;
        // Entered but not through (a fault meanwhile): the next try is a new seat, with a handshake of its own.
        if (this.memberId) this.#newKeys();
        await pause(1000);
      }
    }
    this.#start();
    // Its frames go out once the facilitator's browser has handed it the key (bounded: the run checks video anyway).
    await this.keys.keyed(15_000).catch(() => undefined);
  }

  #newKeys(): void {
    const { roomId, secret } = this.#options;
    this.#spentKeys.push(this.keys);
    this.keys.close();
    this.keys = new SyntheticKeys(undefined, roomId, secret);
    this.memberId = undefined;
  }

  /** Frames sealed and dropped for want of a key, and key messages not relayed, over all its handshakes. */
  sealing(): { sealed: number; dropped: number; relaysRefused: Map<string, number> } {
    const all = { sealed: 0, dropped: 0, relaysRefused: new Map<string, number>() };
    for (const keys of [...this.#spentKeys, this.keys]) {
      all.sealed += keys.frames.totals.sealed;
      all.dropped += keys.frames.totals.dropped;
      for (const [code, n] of keys.relaysRefused) all.relaysRefused.set(code, (all.relaysRefused.get(code) ?? 0) + n);
    }
    return all;
  }

  /** The key this member seals with now, if any. */
  get sending(): KeyRef | null {
    return this.keys.frames.sending;
  }

  async #enter(): Promise<void> {
    const socket = await this.#connect();
    if (!socket) throw new Error('could not connect');
    const seen = this.keys.viewsSeen;
    const { view, resume } = await ask(socket, 'room:enter', { roomId: this.#options.roomId, token: this.#options.inviteToken, displayName: this.name });
    this.keys.entered(view, seen);
    this.memberId = view.self.id;
    this.#credential = resume.credential;
    await ask(socket, 'room:command', { command: { type: 'agreement.acknowledge', version: view.agreement.version, privateSpace: true } });
    this.state = 'in';
    // In from here on: a drop now is resumed like any other, and media follows the resume.
    this.#queueMedia(() => this.#buildMedia(15_000));
    await this.#media;
  }

  /** media:join (retried until admitted), a plain receive transport to our sink, a send transport, microphone and camera. */
  async #buildMedia(admitWithinMs = 5000): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    const deadline = Date.now() + admitWithinMs;
    let joined: ResponseData<'media:join'> | undefined;
    while (!joined) {
      try {
        joined = await ask(socket, 'media:join', {});
      } catch (error) {
        if (Date.now() > deadline || !socket.connected || !(error instanceof AskError) || error.code !== 'FORBIDDEN') throw error;
        await pause(200);
      }
    }
    const recv = await ask(socket, 'transport:createPlain', { direction: 'recv' });
    await ask(socket, 'transport:connectPlain', { transportId: recv.id, ip: '127.0.0.1', port: this.#recv.address().port });
    // What the others already send is listed in the answer and resumed in one request.
    const { consumers } = await ask(socket, 'media:ready', { rtpCapabilities: joined.routerRtpCapabilities });
    for (const offer of consumers) this.#route(offer);
    if (consumers.length > 0) void ask(socket, 'consumers:resume', { consumers: consumers.map(({ consumerId }) => ({ consumerId })) }).catch(() => undefined);
    const send = await ask(socket, 'transport:createPlain', { direction: 'send' });
    this.#target = { ip: send.ip, port: send.port };
    for (const kind of ['audio', 'video'] as const) {
      await ask(socket, 'media:produce', { transportId: send.id, kind, source: kind === 'audio' ? 'mic' : 'camera', rtpParameters: this.source.rtpParameters(kind), paused: false });
    }
    this.rebuilds++;
  }

  /** One media step at a time; a failed one is left to the next drop, reset or resume. */
  #queueMedia(step: () => Promise<void>): void {
    this.#media = this.#media.then(step).catch(() => undefined);
  }

  /** After a resume: keep the media the node still has (resync), else build it again. */
  async #refreshMedia(): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    try {
      await ask(socket, 'media:resync', {});
    } catch (error) {
      if (error instanceof AskError && (error.code === 'DISCONNECTED' || error.code === 'TIMEOUT')) throw error;
      await this.#buildMedia();
    }
  }

  /** Take the seat back after a drop, as the web client does; bounded by the grace period (and a margin). */
  async #resume(): Promise<void> {
    if (this.#resuming) return;
    this.#resuming = true;
    const { graceSeconds, roomId, hooks } = this.#options;
    const giveUpAt = (this.awaySince ?? Date.now()) + (graceSeconds + 30) * 1000;
    let delay = 200 + Math.random() * 500;
    let lastError = '';
    try {
      while (!this.#closing && this.state === 'away' && Date.now() < giveUpAt) {
        await pause(Math.max(delay, this.#offlineUntil - Date.now()));
        delay = Math.min(delay * 1.6, 2000);
        const socket = await this.#connect();
        if (!socket || this.#closing) continue;
        try {
          const seen = this.keys.viewsSeen;
          const { view, resume } = await ask(socket, 'room:resume', { roomId, credential: this.#credential ?? '' });
          // Hello again to the facilitators with this view, so the leader catches it up on a switch it missed.
          this.keys.resumed(view, seen);
          if (view.self.id !== this.memberId) hooks.seatLost(this, `resumed as another seat`, true);
          this.#credential = resume.credential;
          this.state = 'in';
          this.awaySince = undefined;
          this.resumes++;
        } catch (error) {
          const code = error instanceof AskError ? error.code : 'ERROR';
          if ((code === 'FORBIDDEN' || code === 'NOT_FOUND') && !hooks.ending(this)) {
            const awayMs = Date.now() - (this.awaySince ?? Date.now());
            hooks.seatLost(this, `resume refused (${code}) ${(awayMs / 1000).toFixed(1)} s after the drop${lastError ? `, after ${lastError}` : ''}`, awayMs < graceSeconds * 1000);
            this.state = 'lost';
            socket.close();
            return;
          }
          if (code === 'FORBIDDEN' || code === 'NOT_FOUND') {
            // Its session ended or it was removed while away: it learns so on its way back.
            this.ended ??= { reason: 'gone', at: Date.now() };
            this.state = 'ended';
            socket.close();
            return;
          }
          lastError = code;
          socket.close();
          continue;
        }
        this.#queueMedia(() => this.#refreshMedia());
        return;
      }
    } finally {
      this.#resuming = false;
    }
  }

  #start(): void {
    const sendPacket = (packet: Buffer) => {
      const target = this.#target;
      if (target && !this.#closing) this.#send.send(packet, target.port, target.ip);
    };
    // Each frame sealed with the key in use, or dropped while there is none.
    this.#timers.push(setInterval(() => this.source.audioTo(sendPacket), 20));
    this.#timers.push(setInterval(() => this.source.videoTo(sendPacket), 1000 / FPS));
  }

  /** The connection breaks (as a network drop would) and stays down `offlineMs`: then the member comes back by itself. */
  cut(offlineMs = 0): void {
    this.#offlineUntil = Date.now() + offlineMs;
    this.#socket?.disconnect();
  }

  /** Answer a facilitator's ask for a source (accepting lifts their hold). */
  async answerAsk(source: 'mic' | 'camera'): Promise<void> {
    const socket = this.#socket;
    if (!socket?.connected) throw new AskError('DISCONNECTED', 'not connected');
    await ask(socket, 'room:command', { command: { type: 'ask.answer', source, accept: true } });
  }

  /** Stop sending and receiving, close the connection (after a removal: a modified client may keep sending until then). */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.state = this.state === 'in' || this.state === 'away' || this.state === 'joining' ? 'closed' : this.state;
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    this.keys.close();
    this.#socket?.close();
    this.#send.close();
    this.#recv.close();
  }
}
