import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { Agent } from 'node:https';
import type { ClientToServerEvents, RequestName, RequestPayload, ResponseData, Result, ServerToClientEvents } from '@group-room/shared';
import { io, type Socket } from 'socket.io-client';
import { RtpSource } from '../support/synthetic-member.js';

/*
 * A synthetic member that behaves like the web client under trouble (the shared load-test
 * member, tests/support/synthetic-member.ts, gives up on the first drop): it connects through
 * the proxy with its room in the handshake and follows an ELSEWHERE refusal to the node
 * named; when its connection drops it reconnects with backoff and takes its seat back with
 * its resume credential (`room:resume`), then resyncs its media or, if the node no longer has
 * it, builds it again (`media:join`), as after `media:reset`. It sends plain RTP (audio and
 * VP8-shaped video) and counts what it receives per sender and per source port: the source
 * port tells which node's mediasoup worker forwarded a packet.
 */

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
export type Kind = 'audio' | 'video';
export type MemberState = 'joining' | 'in' | 'away' | 'removed' | 'ended' | 'lost' | 'closed';

const ASK_TIMEOUT_MS = 8000;
const FPS = 30;

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
}

export interface MemberOptions {
  url: string;
  agent: Agent;
  roomId: string;
  inviteToken: string;
  name: string;
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
  readonly #options: MemberOptions;
  readonly #send: UdpSocket;
  readonly #recv: UdpSocket;
  #socket: Client | undefined;
  #credential: string | undefined;
  #hint: string | undefined;
  #target: { ip: string; port: number } | undefined;
  readonly #routes = new Map<number, { peerId: string; kind: Kind }>();
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
    this.source = new RtpSource(options.videoKbps ?? 100);
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
    socket.on('consumer:new', ({ consumerId, peerId, kind, rtpParameters }) => {
      for (const encoding of rtpParameters.encodings ?? []) {
        const { ssrc, rtx } = encoding as { ssrc?: unknown; rtx?: { ssrc?: unknown } };
        if (typeof ssrc === 'number') this.#routes.set(ssrc, { peerId, kind });
        if (typeof rtx?.ssrc === 'number') this.#routes.set(rtx.ssrc, { peerId, kind });
      }
      void ask(socket, 'consumer:resume', { consumerId }).catch(() => undefined);
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

  /** Enter with the invite link (agreeing, auto-admitted), start media and send. */
  async join(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await this.#enter();
        break;
      } catch (error) {
        this.#socket?.close();
        if (Date.now() > deadline || this.#closing) throw error;
        await pause(1000);
      }
    }
    this.#start();
  }

  async #enter(): Promise<void> {
    const socket = await this.#connect();
    if (!socket) throw new Error('could not connect');
    const { view, resume } = await ask(socket, 'room:enter', { roomId: this.#options.roomId, token: this.#options.inviteToken, displayName: this.name });
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
    await ask(socket, 'media:ready', { rtpCapabilities: joined.routerRtpCapabilities });
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
          const { view, resume } = await ask(socket, 'room:resume', { roomId, credential: this.#credential ?? '' });
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
    this.#timers.push(setInterval(() => sendPacket(this.source.audio()), 20));
    this.#timers.push(
      setInterval(() => {
        for (const packet of this.source.videoFrame()) sendPacket(packet);
      }, 1000 / FPS),
    );
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
    this.#socket?.close();
    this.#send.close();
    this.#recv.close();
  }
}
