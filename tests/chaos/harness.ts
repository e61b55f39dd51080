import { existsSync, readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { DecryptFrameResult, LinkSecret } from '@group-room/shared/e2ee';
import type { Browser, Page } from 'playwright-core';
import { createClient, type RedisClientType } from 'redis';
import { secretFromHash } from '../../apps/web/lib/e2ee/link-secrets.js';
import { startStack, type Stack, type StackNode } from '../../infra/stack/stack.js';
import { createRoom, enterAsFacilitator, fillEntryForm, inboundByPeer, launchChromium, newMember, setAutoAdmit, type Member } from '../support/browser.js';
import { rawRequest, recordPageSockets } from '../support/page-socket.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { ChaosMember, pause, type Kind, type MemberHooks } from './member.js';
import { mediasoupWorkerPids, udpPortsOf } from './processes.js';
import { emptyReport, FAULT_KINDS, type ChaosReport, type FaultKind, type Invariant } from './report.js';

/*
 * The chaos run (issue 16 item 4): the stack (Caddy, two signalling nodes on Redis, coturn),
 * each node reaching Redis through a TCP proxy of its own so that it alone can lose Redis; a
 * few rooms, each with a facilitator in headless Chromium and synthetic members (the real
 * Socket.IO path through the proxy, RTP sealed end to end with the keys the facilitator's
 * browser hands them, from the invite link's secret). For the given time it injects one fault
 * at a time, at random, waits for it to clear and for video to flow again, and checks the
 * invariants all along, among them that what members and the page receive decrypts. Every
 * loop here has a deadline: the run stops by itself.
 */

export interface ChaosOptions {
  minutes: number;
  rooms?: number;
  membersPerRoom?: number;
  seed?: number;
  /** The build to run (default: this checkout's; CHAOS_APP_ROOT in the environment says the same). */
  appRoot?: string;
  /** Progress lines (fault by fault); nothing identifying anyone beyond the run's fixed fake names. */
  log?: (line: string) => void;
}

const REDIS_URL = 'redis://127.0.0.1:6379';
const SEAT_GRACE_SECONDS = 30;
/** A home's lease: another node may take a room this long after its home lost Redis. */
const LEASE_MS = 5000;
/** Packets in flight and timers: what an acknowledged change is given before it is checked. */
const SETTLE_MS = 1000;
const VIDEO_AGAIN_MS = 10_000;
/**
 * How long a sender's frames may keep failing to decrypt at a receiver: a key on its way takes
 * a moment, and frames under a generation are opened until 10 s after the switch away from it.
 */
const DECRYPT_LIMIT_MS = 10_000;
const RECOVERY_LIMIT_MS = 45_000;
const NAMES = ['Ava', 'Ben', 'Cas', 'Dee', 'Eli', 'Fin'] as const;
/** What a room page shows once its seat is gone (the client's RoomStatus). */
const PAGE_LOST = new Set(['ended', 'error', 'left', 'idle']);

/** A muted source or a removed member: nothing of `kind` from `memberId` may arrive in [since, until). */
interface Silence {
  room: Room;
  memberId: string;
  name: string;
  kind: Kind;
  ackAt: number;
  since: number;
  until: number;
  what: string;
  /** Receivers already counted for it (one violation per receiver and silence). */
  hit: Set<string>;
  /** The last forbidden arrival (ms after the acknowledgement), for the summary. */
  lastHitMs: number;
  during: string;
}

interface PageStream {
  bytes: number;
  sampledAt: number;
  /** A lower bound of the last time bytes arrived (the start of the sample before the one that saw them grow). */
  flowAt: number;
  /** The recent such lower bounds (the last minute or so). */
  flows: number[];
}

interface Pair {
  what: string;
  /** Received by the page (sampled about once a second) rather than by a synthetic member (exact). */
  page: boolean;
  /** When its video last arrived (for the page: a lower bound). */
  flowAt(): number;
  /** Whether video arrived in (from, to] (for the page: a sample's lower bound in it). */
  flowedWithin(from: number, to: number): boolean;
  /** At a synthetic member: the longest pause since the fault's injection (see ChaosMember.gap). */
  gap?: (now: number) => number;
  /** The sender's member id. */
  sender: string;
}

/** What a page sample may lag behind the media: a page stream is judged this long after a deadline. */
const PAGE_SLACK_MS = 2500;

interface Room {
  index: number;
  label: string;
  roomId: string;
  inviteToken: string;
  /** The invite link's secret (its fragment's `i=`), made by the facilitator's browser. */
  inviteSecret: LinkSecret | undefined;
  facilitatorUrl: string;
  facilitator: Member;
  facilitatorId: string | undefined;
  pageStatus: string;
  members: ChaosMember[];
  /** Removed members, still sending for a while (a modified client) and counted as receivers. */
  retired: ChaosMember[];
  pageStreams: Map<string, PageStream>;
  ending: boolean;
  home: string | null;
  homeSince: number;
  nameCount: number;
  /** The nodes that forwarded its media in the last second, as last logged. */
  forwarders: string;
  /** Per member id, since when the facilitator's page has shown their frames failing to decrypt. */
  pageFailing: Map<string, number>;
}

/** The member id the page keeps its seat under (as tests/support/room-checks.ts reads it; that module needs vitest). */
async function storedSeatMemberId(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    for (let i = 0; i < sessionStorage.length; i++) {
      const key = sessionStorage.key(i);
      if (key?.startsWith('group-room:seat:')) return (JSON.parse(sessionStorage.getItem(key) ?? '{}') as { memberId?: string }).memberId ?? null;
    }
    return null;
  });
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const linkParts = (url: string) => {
  const parsed = new URL(url);
  const roomId = parsed.pathname.split('/').pop() ?? '';
  const token = new URLSearchParams(parsed.hash.replace(/^#/, '')).get('k') ?? '';
  return { roomId, token };
};

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class ChaosRun {
  readonly report: ChaosReport;
  readonly #options: Required<Omit<ChaosOptions, 'log' | 'seed' | 'appRoot'>> & { log: (line: string) => void };
  readonly #appRoot: string | undefined;
  readonly #random: () => number;
  #stack: Stack | undefined;
  #browser: Browser | undefined;
  #redis: RedisClientType | undefined;
  #agent: Agent | undefined;
  readonly #proxies = new Map<string, TcpProxy>();
  readonly #rooms: Room[] = [];
  readonly #silences = new Map<string, Silence[]>();
  /** The fault under way (for violation details) and whether one is. */
  #current: FaultKind | 'steady' | 'setup' | 'ending' = 'setup';
  readonly #started = Date.now();
  #portOwners = new Map<number, string>();
  #portOwnersAt = 0;
  readonly #episodes = new Set<string>();
  #stopping = false;
  #stopRequested = false;
  readonly #timers: NodeJS.Timeout[] = [];
  /** Every synthetic member of the run (for the encryption figures). */
  readonly #everyone: ChaosMember[] = [];
  /** Per `${receiver}>${sender}:${kind}` at a synthetic member: since when its sampled frames have failed to open. */
  readonly #failingAt = new Map<string, number>();
  /** Synthetic members whose frames reached a facilitator's page, and those it showed decrypted. */
  readonly #pageSenders = new Set<string>();
  readonly #pageDecrypted = new Set<string>();

  constructor(options: ChaosOptions) {
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.#random = mulberry32(seed);
    this.#options = { minutes: options.minutes, rooms: options.rooms ?? 3, membersPerRoom: options.membersPerRoom ?? 3, log: options.log ?? (() => undefined) };
    this.#appRoot = options.appRoot ?? process.env['CHAOS_APP_ROOT'];
    this.report = emptyReport(seed, options.minutes, this.#options.rooms);
  }

  #log(line: string): void {
    const s = Math.round((Date.now() - this.#started) / 1000);
    this.#options.log(`[chaos ${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${line}`);
  }

  #violation(invariant: Invariant, detail: string, example = true): void {
    this.report.violations[invariant]++;
    const examples = this.report.examples[invariant];
    const text = `${detail} [during ${this.#current}]`;
    if (example && examples.length < 6) examples.push(text);
    this.#log(`VIOLATION ${invariant}: ${text}`);
  }

  /** A receiver got media a mute or removal forbids: counted once per receiver, summed up per silence at the end. */
  #silenceBroken(silence: Silence, receiver: string, kind: Kind, afterMs: number): void {
    silence.lastHitMs = Math.max(silence.lastHitMs, afterMs);
    if (silence.hit.has(receiver)) return;
    silence.hit.add(receiver);
    silence.during = this.#current;
    this.#violation('silenced', `${silence.room.label}: ${silence.what} of ${silence.name}: ${kind} reached ${receiver} ${afterMs} ms after the acknowledgement`, false);
  }

  /** One example line per broken mute or removal: who received it, and until when. */
  #summariseSilences(): void {
    for (const list of this.#silences.values()) {
      for (const s of list) {
        if (s.hit.size === 0 || this.report.examples.silenced.length >= 6) continue;
        this.report.examples.silenced.push(
          `${s.room.label}: ${s.what} of ${s.name}: ${s.kind} kept reaching ${[...s.hit].join(', ')} until ${(s.lastHitMs / 1000).toFixed(1)} s after the acknowledgement [during ${s.during}]`,
        );
      }
    }
  }

  #pick<T>(items: readonly T[]): T | undefined {
    return items.length ? items[Math.floor(this.#random() * items.length)] : undefined;
  }

  #between(min: number, max: number): number {
    return min + this.#random() * (max - min);
  }

  // -------------------------------------------------------------------------------------------
  // Set-up and tear-down

  async run(): Promise<ChaosReport> {
    try {
      await this.#setUp();
      this.#startWatching();
      this.#current = 'steady';
      await this.#steady();
      // The given minutes are the faults' time, after the set-up.
      const deadline = Date.now() + this.#options.minutes * 60_000;
      // Faults come in rounds of every kind, shuffled; the first round puts the kinds that
      // exercise the home's lease first, so that even a short run (the 2-minute test) has them.
      const leading: FaultKind[] = ['redis-cut-one', 'redis-outage-all', 'node-sigkill', 'remove', 'mute'];
      let deck: FaultKind[] = [...this.#shuffle([...leading]), ...this.#shuffle(FAULT_KINDS.filter((k) => !leading.includes(k)))];
      while (Date.now() < deadline - 10_000 && !this.#stopRequested) {
        if (deck.length === 0) deck = this.#shuffle([...FAULT_KINDS]);
        const kind = deck.shift()!;
        try {
          await this.#inject(kind);
        } catch (error) {
          // A step of the harness itself failed (say, a page did not load in time): go on.
          this.#log(`${kind}: the harness could not complete it (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
        }
        this.#current = 'steady';
        await pause(this.#between(1000, 3000));
        await this.#steady();
      }
      this.#current = 'ending';
      for (const room of this.#rooms) await this.#endSession(room);
    } finally {
      this.#summariseSilences();
      await this.#tearDown();
    }
    return this.report;
  }

  /** Stop injecting after the fault under way; the sessions are then ended and checked as usual. */
  requestStop(): void {
    this.#stopRequested = true;
  }

  #shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  async #setUp(): Promise<void> {
    this.#redis = createClient({ url: REDIS_URL });
    this.#redis.on('error', () => undefined);
    await this.#redis.connect();
    for (const name of ['a', 'b']) this.#proxies.set(name, await startTcpProxy({ host: '127.0.0.1', port: 6379 }));
    this.#log('starting the stack (Caddy, nodes a and b, coturn)');
    this.#stack = await startStack({
      nodes: 2,
      env: {
        SYNTHETIC_MEDIA: 'true',
        SEAT_GRACE_SECONDS: String(SEAT_GRACE_SECONDS),
        SOCKETS_PER_ADDRESS: '100000',
        ROOMS_PER_ADDRESS_PER_HOUR: '100000',
        HANDSHAKE_BURST: '100000',
        HANDSHAKES_PER_SECOND: '100000',
        ENTRY_PER_ADDRESS: '100000',
        LOG_LEVEL: 'warn',
      },
      nodeEnv: (name) => ({ REDIS_URL: `redis://127.0.0.1:${this.#proxies.get(name)!.port}` }),
      ...(this.#appRoot ? { appRoot: this.#appRoot } : {}),
    });
    // Only this harness trusts the stack's local CA; "localhost" is pinned to 127.0.0.1.
    this.#browser = await launchChromium(['--ignore-certificate-errors', '--host-resolver-rules=MAP localhost 127.0.0.1']);
    for (let i = 0; i < this.#options.rooms; i++) {
      const facilitator = await newMember(this.#browser, this.#stack.url);
      await recordPageSockets(facilitator.context);
      const room = await this.#openRoom(i, facilitator);
      this.#rooms.push(room);
    }
  }

  #httpsAgent(): Agent {
    if (this.#agent) return this.#agent;
    const caRoot = this.#stack!.caRoot;
    if (!existsSync(caRoot)) throw new Error(`no local CA at ${caRoot}`);
    const lookup: LookupFunction = (_host, options, callback) => {
      if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
    };
    this.#agent = new Agent({ ca: readFileSync(caRoot), lookup, keepAlive: false });
    return this.#agent;
  }

  /** A facilitator page creates a room and enters it with auto-admit on; synthetic members join. */
  async #openRoom(index: number, facilitator: Member, existing?: Room): Promise<Room> {
    const label = `room ${index + 1}`;
    const { facilitatorUrl, inviteUrl } = await createRoom(facilitator, `Chaos ${index + 1}`);
    await enterAsFacilitator(facilitator, facilitatorUrl, 'Fay');
    await setAutoAdmit(facilitator.page, true);
    const { roomId } = linkParts(facilitatorUrl);
    const inviteSecret = secretFromHash(new URL(inviteUrl).hash);
    if (inviteSecret?.kind !== 'invite') throw new Error(`${label}: the invite link carries no invite secret`);
    const room: Room = existing ?? {
      index,
      label,
      roomId,
      inviteToken: '',
      inviteSecret,
      facilitatorUrl,
      facilitator,
      facilitatorId: undefined,
      pageStatus: 'joined',
      members: [],
      retired: [],
      pageStreams: new Map(),
      ending: false,
      home: null,
      homeSince: Date.now(),
      nameCount: 0,
      forwarders: '',
      pageFailing: new Map(),
    };
    room.pageFailing.clear();
    Object.assign(room, { roomId, facilitatorUrl, inviteToken: linkParts(inviteUrl).token, inviteSecret, facilitatorId: (await storedSeatMemberId(facilitator.page)) ?? undefined, pageStatus: 'joined', members: [], retired: [], ending: false, home: null, homeSince: Date.now() });
    room.pageStreams.clear();
    for (let i = 0; i < this.#options.membersPerRoom; i++) await this.#addMember(room);
    this.#log(`${label}: facilitator page and ${room.members.length} synthetic members in`);
    return room;
  }

  async #addMember(room: Room): Promise<ChaosMember> {
    // Fixed fake names; a newcomer gets a number so every name in a room is its own.
    const n = room.nameCount++;
    const base = NAMES[n % NAMES.length]!;
    const name = n < this.#options.membersPerRoom ? base : `${base} ${n + 1}`;
    const member = await ChaosMember.create({
      url: this.#stack!.url,
      agent: this.#httpsAgent(),
      roomId: room.roomId,
      inviteToken: room.inviteToken,
      secret: room.inviteSecret!,
      name,
      graceSeconds: SEAT_GRACE_SECONDS,
      hooks: this.#hooks(room),
    });
    room.members.push(member);
    this.#everyone.push(member);
    try {
      await member.join();
      if (!member.sending && member.state === 'in') {
        this.report.e2ee.unkeyed++;
        this.#log(`${room.label}: ${name} has no key 15 s after entering (${member.keys.status.state})`);
      }
    } catch (error) {
      room.members = room.members.filter((m) => m !== member);
      member.close();
      throw error;
    }
    return member;
  }

  #hooks(room: Room): MemberHooks {
    return {
      packet: (member, peerId, kind, at) => this.#packet(room, member, peerId, kind, at),
      seatLost: (member, detail, early) => {
        if (early) this.#violation('seats', `${room.label}: ${member.name}'s ${detail}`);
        else this.#log(`${room.label}: ${member.name}'s seat expired after its grace (${detail})`);
      },
      ending: (member) => room.ending || room.retired.includes(member),
      opened: (member, peerId, kind, at, result) => this.#opened(room, member, peerId, kind, at, result),
    };
  }

  /** A frame sampled at a synthetic member was opened (or not) with its keys. */
  #opened(room: Room, receiver: ChaosMember, peerId: string, kind: Kind, at: number, result: DecryptFrameResult): void {
    const e2ee = this.report.e2ee;
    // Only members in the room: a removed one holds keys no longer handed to it.
    if (receiver.state !== 'in' && receiver.state !== 'away') return;
    const key = `${receiver.memberId}>${peerId}:${kind}`;
    if (!('error' in result)) {
      e2ee.opened++;
      this.#failingAt.delete(key);
      return;
    }
    e2ee.notOpened[result.error] = (e2ee.notOpened[result.error] ?? 0) + 1;
    const sender = peerId === room.facilitatorId ? 'Fay' : ([...room.members, ...room.retired].find((m) => m.memberId === peerId)?.name ?? peerId);
    if (result.error === 'auth') {
      // Under a key id it holds, yet it does not authenticate: the wrong key, or frames that are not what was sealed.
      const episode = `auth:${key}`;
      if (!this.#episodes.has(episode)) {
        this.#episodes.add(episode);
        this.#violation('decrypts', `${room.label}: ${sender}'s ${kind} frame did not authenticate at ${receiver.name}`);
      }
      return;
    }
    const since = this.#failingAt.get(key) ?? at;
    this.#failingAt.set(key, since);
    const episode = `fail:${key}:${since}`;
    if (at - since > DECRYPT_LIMIT_MS && !this.#episodes.has(episode)) {
      this.#episodes.add(episode);
      this.#violation('decrypts', `${room.label}: ${sender}'s ${kind} frames have not opened at ${receiver.name} for ${((at - since) / 1000).toFixed(1)} s (${result.error}; it sends under ${receiver.sending ? 'a key' : 'no key'})`);
    }
  }

  /** The encryption figures, from every synthetic member of the run. */
  #sumUpEncryption(): void {
    const e2ee = this.report.e2ee;
    for (const m of this.#everyone) {
      const { sealed, dropped, relaysRefused } = m.sealing();
      e2ee.sealed += sealed;
      e2ee.dropped += dropped;
      for (const [code, n] of relaysRefused) e2ee.relaysRefused[code] = (e2ee.relaysRefused[code] ?? 0) + n;
    }
    e2ee.pageSenders = this.#pageSenders.size;
    e2ee.pageDecrypted = this.#pageDecrypted.size;
  }

  async #tearDown(): Promise<void> {
    this.#stopping = true;
    this.#sumUpEncryption();
    for (const timer of this.#timers) clearInterval(timer);
    // Each step on its own: whatever fails, the processes are stopped and the keys deleted.
    for (const room of this.#rooms) {
      for (const m of [...room.members, ...room.retired]) {
        try {
          m.close();
        } catch {
          // already closed
        }
      }
    }
    await this.#browser?.close().catch(() => undefined);
    await this.#stack?.stop().catch(() => undefined);
    for (const proxy of this.#proxies.values()) await proxy.close().catch(() => undefined);
    this.#agent?.destroy();
    if (this.#redis?.isOpen) {
      const prefix = this.#stack?.prefix;
      try {
        if (prefix) for await (const keys of this.#redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) if (keys.length) await this.#redis.del(keys);
      } finally {
        await this.#redis.close().catch(() => undefined);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Watching: media at the receivers, the rooms' homes, which node forwards, the pages

  #packet(room: Room, receiver: ChaosMember, peerId: string, kind: Kind, at: number): void {
    if (receiver.state === 'removed' && receiver.ended && at >= receiver.ended.at + SETTLE_MS) {
      const key = `deaf:${receiver.name}:${receiver.ended.at}`;
      if (!this.#episodes.has(key)) {
        this.#episodes.add(key);
        this.#violation('removedDeaf', `${room.label}: removed ${receiver.name} still received ${kind} ${at - receiver.ended.at} ms after its removal reached it`);
      }
    }
    for (const silence of this.#silences.get(peerId) ?? []) {
      if (silence.kind !== kind || at < silence.since || at >= silence.until) continue;
      this.#silenceBroken(silence, receiver.name, kind, at - silence.ackAt);
    }
  }

  #silence(room: Room, member: { memberId: string; name: string }, kind: Kind, ackAt: number, what: string): Silence {
    const silence: Silence = { room, memberId: member.memberId, name: member.name, kind, ackAt, since: ackAt + SETTLE_MS, until: Infinity, what, hit: new Set(), lastHitMs: 0, during: '' };
    const list = this.#silences.get(member.memberId) ?? [];
    list.push(silence);
    this.#silences.set(member.memberId, list);
    return silence;
  }

  #silenced(memberId: string | undefined, kind: Kind, at = Date.now()): boolean {
    return !!memberId && (this.#silences.get(memberId) ?? []).some((s) => s.kind === kind && at < s.until);
  }

  #startWatching(): void {
    let homesBusy = false;
    this.#timers.push(
      setInterval(() => {
        if (homesBusy || this.#stopping) return;
        homesBusy = true;
        void this.#watchHomes().finally(() => (homesBusy = false));
      }, 500),
    );
    this.#timers.push(setInterval(() => this.#watchForwarding(), 1000));
    let pagesBusy = false;
    this.#timers.push(
      setInterval(() => {
        if (pagesBusy || this.#stopping) return;
        pagesBusy = true;
        void Promise.all(this.#rooms.map((room) => this.#watchPage(room))).finally(() => (pagesBusy = false));
      }, 1000),
    );
  }

  /** The room's home as the store records it (the doc's `home`, or the hash's `homeName` where the store keeps it beside the doc). */
  async #readHome(room: Room): Promise<string | null> {
    const fields = await this.#redis!.hGetAll(`${this.#stack!.prefix}room:${room.roomId}`);
    if (fields['homeName']) return fields['homeName'];
    if (!fields['doc']) return null;
    try {
      const doc = JSON.parse(fields['doc']) as { home?: { name?: string } | null };
      return doc.home?.name ?? null;
    } catch {
      return null;
    }
  }

  async #watchHomes(): Promise<void> {
    for (const room of this.#rooms) {
      const home = await withTimeout(this.#readHome(room), 1000);
      if (home === undefined || room.ending) continue;
      if (home !== room.home) {
        if (room.home !== null && home !== null) this.#log(`${room.label}: home ${room.home} → ${home}`);
        room.home = home;
        room.homeSince = Date.now();
      }
    }
  }

  #nodeOfPort(port: number): string | undefined {
    const now = Date.now();
    if (!this.#portOwners.has(port) && now - this.#portOwnersAt > 1000) {
      this.#portOwnersAt = now;
      const owners = new Map<number, string>();
      for (const node of this.#stack!.nodes) {
        const pid = node.child.process.pid;
        if (!pid) continue;
        for (const [p] of udpPortsOf(mediasoupWorkerPids(pid))) owners.set(p, node.name);
      }
      this.#portOwners = owners;
    }
    return this.#portOwners.get(port);
  }

  /** Every second: which nodes forwarded media to each room's receivers; a node that is not the home must stop within the lease. */
  #watchForwarding(): void {
    if (this.#stopping) return;
    const now = Date.now();
    for (const room of this.#rooms) {
      const byNode = new Map<string, number>();
      for (const member of [...room.members, ...room.retired]) {
        for (const [port, count] of member.takePortCounts()) {
          const node = this.#nodeOfPort(port) ?? '?';
          byNode.set(node, (byNode.get(node) ?? 0) + count);
        }
      }
      const forwarders = [...byNode].filter(([node, count]) => node !== '?' && count >= 10).map(([node]) => node).sort().join('+') || 'none';
      if (forwarders !== room.forwarders) {
        room.forwarders = forwarders;
        this.#log(`${room.label}: media forwarded by ${forwarders} (home ${room.home ?? 'none'})`);
      }
      if (room.ending || room.home === null) continue;
      for (const [node, count] of byNode) {
        if (node === '?' || node === room.home || count < 10) continue;
        const since = now - room.homeSince;
        if (since <= LEASE_MS + SETTLE_MS) continue;
        const key = `home:${room.roomId}:${node}:${room.homeSince}`;
        if (this.#episodes.has(key)) continue;
        this.#episodes.add(key);
        const both = (byNode.get(room.home) ?? 0) >= 10 ? `while its home ${room.home} forwards too` : `(its home is ${room.home})`;
        void this.#confirmOtherForwarder(room, node, `${room.label}: node ${node} still forwards the room's media ${(since / 1000).toFixed(1)} s after the home became ${room.home} ${both}`);
      }
    }
  }

  /**
   * The homes are read every 500 ms, the forwarding every second: a node that has just taken the
   * room (its new home) can be seen forwarding before the home watcher has read the change. The
   * store is asked again before a violation is counted.
   */
  async #confirmOtherForwarder(room: Room, node: string, violation: string): Promise<void> {
    const home = await withTimeout(this.#readHome(room), 1000);
    if (home === node) {
      this.#log(`${room.label}: home ${room.home ?? 'none'} → ${home} (seen forwarding first)`);
      room.home = home;
      room.homeSince = Date.now();
      return;
    }
    this.#violation('oneHome', violation);
  }

  /** The facilitator page: what it receives per peer (getStats) and its status. */
  async #watchPage(room: Room): Promise<void> {
    const page = room.facilitator.page;
    const start = Date.now();
    const samples = await withTimeout(inboundByPeer(page), 4000);
    const status = await withTimeout(page.locator('main').getAttribute('data-status', { timeout: 2000 }), 3000);
    if (status && status !== room.pageStatus) {
      if (PAGE_LOST.has(status) && !room.ending) {
        // What the page tells the facilitator (the room's texts carry only the run's fake names).
        const said = await withTimeout(page.locator('main').innerText({ timeout: 2000 }), 3000);
        this.#violation('seats', `${room.label}: the facilitator's page left the room, showing "${status}": ${(said ?? '').replace(/\s+/g, ' ').slice(0, 140)}`);
      }
      room.pageStatus = status;
    }
    const ids = new Map<string, string>();
    for (const m of [...room.members, ...room.retired]) if (m.memberId) ids.set(m.name, m.memberId);
    await this.#watchPageDecryption(room, ids, start);
    if (!samples) return;
    for (const sample of samples) {
      const key = `${sample.peerName}:${sample.kind}`;
      const prev = room.pageStreams.get(key);
      const next: PageStream = { bytes: sample.bytesReceived, sampledAt: start, flowAt: prev?.flowAt ?? 0, flows: prev?.flows ?? [] };
      if (prev && sample.bytesReceived > prev.bytes) {
        // Bytes that arrived after the previous sample started.
        next.flowAt = prev.sampledAt;
        next.flows.push(prev.sampledAt);
        if (next.flows.length > 60) next.flows.shift();
        const memberId = ids.get(sample.peerName);
        for (const silence of memberId ? (this.#silences.get(memberId) ?? []) : []) {
          if (silence.kind !== sample.kind || prev.sampledAt < silence.since || start > silence.until) continue;
          this.#silenceBroken(silence, "the facilitator's page", sample.kind, prev.sampledAt - silence.ackAt);
        }
      }
      room.pageStreams.set(key, next);
    }
  }

  /**
   * What the facilitator's page shows of each member's frames (its tiles' lock: `decrypted`
   * once a frame of theirs really was decrypted there, `failing` while theirs do not decrypt).
   */
  async #watchPageDecryption(room: Room, ids: Map<string, string>, now: number): Promise<void> {
    const tiles = await withTimeout(
      room.facilitator.page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('[data-testid="peer-tile"]')].map((tile) => ({ name: tile.dataset['peerName'] ?? '', encryption: tile.dataset['encryption'] ?? 'none' })),
      ),
      3000,
    );
    if (!tiles || PAGE_LOST.has(room.pageStatus)) return;
    for (const { name, encryption } of tiles) {
      const memberId = ids.get(name);
      const member = room.members.find((m) => m.memberId === memberId);
      if (!memberId || !member || (member.state !== 'in' && member.state !== 'away')) continue;
      if (encryption === 'decrypted' || encryption === 'failing') this.#pageSenders.add(memberId);
      if (encryption === 'decrypted') this.#pageDecrypted.add(memberId);
      // A tile keeps its last state when frames stop (muted, or gone): failing counts only while theirs arrive.
      const arriving = ['audio', 'video'].some((kind) => (room.pageStreams.get(`${name}:${kind}`)?.flowAt ?? 0) >= now - 4000);
      if (encryption !== 'failing' || !arriving) {
        room.pageFailing.delete(memberId);
        continue;
      }
      const since = room.pageFailing.get(memberId) ?? now;
      room.pageFailing.set(memberId, since);
      const episode = `page-fail:${memberId}:${since}`;
      if (now - since > DECRYPT_LIMIT_MS && !this.#episodes.has(episode)) {
        this.#episodes.add(episode);
        this.#violation('decrypts', `${room.label}: the facilitator's page has shown ${name}'s frames failing to decrypt for ${((now - since) / 1000).toFixed(1)} s (it sends under ${member.sending ? 'a key' : 'no key'})`);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Video flowing

  /** Every (receiver, sender) video stream that should flow now, with when it last flowed. */
  #expected(room: Room): Pair[] {
    const seated = room.members.filter((m) => (m.state === 'in' || m.state === 'away') && m.memberId);
    // The page is expected to come back too, whatever it shows on its way (only a page that left is not).
    const pageIn = !PAGE_LOST.has(room.pageStatus);
    const pairs: Pair[] = [];
    const synthetic = (what: string, receiver: ChaosMember, sender: string): Pair => {
      const flowAt = () => receiver.lastFrom.get(`${sender}:video`) ?? 0;
      return { what, sender, page: false, flowAt, flowedWithin: (from, to) => flowAt() > from && flowAt() <= to, gap: (now) => receiver.gap(`${sender}:video`, now) };
    };
    for (const receiver of seated) {
      for (const sender of seated) {
        if (sender === receiver || this.#silenced(sender.memberId, 'video')) continue;
        pairs.push(synthetic(`${sender.name}→${receiver.name}`, receiver, sender.memberId!));
      }
      if (pageIn && room.facilitatorId && !this.#silenced(room.facilitatorId, 'video')) {
        pairs.push(synthetic(`Fay→${receiver.name}`, receiver, room.facilitatorId));
      }
    }
    if (pageIn) {
      for (const sender of seated) {
        if (this.#silenced(sender.memberId, 'video')) continue;
        const stream = () => room.pageStreams.get(`${sender.name}:video`);
        pairs.push({
          what: `${sender.name}→Fay`,
          sender: sender.memberId!,
          page: true,
          flowAt: () => stream()?.flowAt ?? 0,
          flowedWithin: (from, to) => (stream()?.flows ?? []).some((t) => t > from && t <= to),
        });
      }
    }
    return pairs;
  }

  /** The longest pause of a video stream between synthetic members (or from the page) since `from`, leaving out streams muted meanwhile. */
  #longestGap(from: number, now: number): number {
    let longest = 0;
    for (const room of this.#rooms) {
      if (room.ending) continue;
      for (const pair of this.#expected(room)) {
        if (!pair.gap) continue;
        if ((this.#silences.get(pair.sender) ?? []).some((s) => s.kind === 'video' && s.since - SETTLE_MS < now && s.until > from)) continue;
        longest = Math.max(longest, pair.gap(now));
      }
    }
    return longest;
  }

  /** Expected streams whose video has not arrived since `since` (or, with `until`, did not arrive in (since, until]). */
  #missing(since: number, which: 'all' | 'synthetic' | 'page' = 'all', until?: number): string[] {
    const missing: string[] = [];
    for (const room of this.#rooms) {
      if (room.ending) continue;
      for (const pair of this.#expected(room)) {
        if (which !== 'all' && pair.page !== (which === 'page')) continue;
        const flowed = until === undefined ? pair.flowAt() >= since : pair.flowedWithin(since, until);
        if (!flowed) missing.push(`${room.label} ${pair.what}`);
      }
    }
    return missing;
  }

  /** After a fault clears at `clearAt`: time until every expected video flows again (a violation if not within 10 s). */
  async #recovery(kind: FaultKind, injectedAt: number, clearAt: number): Promise<void> {
    const deadline = clearAt + VIDEO_AGAIN_MS;
    let reported = false;
    /** Streams to synthetic members still without video at the deadline (exact, read then). */
    let lateAtMembers: string[] | undefined;
    let recoveredAt: number | undefined;
    for (;;) {
      const now = Date.now();
      const missing = this.#missing(clearAt);
      if (missing.length === 0 && recoveredAt === undefined) {
        recoveredAt = now;
        this.report.recoveries[kind].push(now - clearAt);
        const gap = this.#longestGap(injectedAt, now);
        this.report.gaps[kind].push(gap);
        this.#log(`${kind}: video flowing everywhere again ${((now - clearAt) / 1000).toFixed(1)} s after the fault cleared (longest pause of a stream ${(gap / 1000).toFixed(1)} s)`);
      }
      // Recovered in time; or late, once the check at the deadline is decided.
      if (recoveredAt !== undefined && (recoveredAt <= deadline || reported)) return;
      if (lateAtMembers === undefined && now > deadline) lateAtMembers = this.#missing(clearAt, 'synthetic');
      // The page's streams once its samples have caught up with the deadline: did video arrive by then?
      if (!reported && lateAtMembers !== undefined && now > deadline + PAGE_SLACK_MS) {
        reported = true;
        const late = [...lateAtMembers, ...this.#missing(clearAt, 'page', deadline)];
        if (late.length) this.#violation('videoAgain', `${kind}: ${late.length} stream(s) without video 10 s after the fault cleared: ${late.slice(0, 4).join(', ')}${late.length > 4 ? ', …' : ''}`);
      }
      if (recoveredAt === undefined && now > clearAt + RECOVERY_LIMIT_MS) {
        this.report.unrecovered[kind]++;
        this.#log(`${kind}: ${missing.length} stream(s) still without video ${RECOVERY_LIMIT_MS / 1000} s after the fault cleared`);
        return;
      }
      await pause(250);
    }
  }

  /** Before a fault: everyone in, every room at full strength, every video flowing (bounded). */
  async #steady(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (const room of this.#rooms) {
      if (PAGE_LOST.has(room.pageStatus)) await this.#reenterPage(room);
      room.members = room.members.filter((m) => m.state !== 'lost' && m.state !== 'ended' && m.state !== 'closed');
      while (room.members.length < this.#options.membersPerRoom && Date.now() < deadline) {
        await this.#addMember(room).catch((error: unknown) => this.#log(`${room.label}: a member could not join (${error instanceof Error ? error.message : String(error)})`));
      }
    }
    while (Date.now() < deadline) {
      if (this.#missing(Date.now() - 3000).length === 0) return;
      await pause(250);
    }
    this.#log(`not steady after 30 s: ${this.#missing(Date.now() - 3000).slice(0, 4).join(', ')}`);
  }

  /** The facilitator page lost its seat (a violation counted by the watcher): it enters again with the facilitator link. */
  async #reenterPage(room: Room): Promise<void> {
    const page = room.facilitator.page;
    try {
      await page.goto(room.facilitatorUrl);
      // The tab may still hold its seat (it then resumes by itself), else the entry form shows.
      const joined = page.locator('main[data-status="joined"]');
      const form = page.getByLabel('Your name, as the group will see it');
      await joined.or(form).first().waitFor({ timeout: 30_000 });
      if (!(await joined.isVisible())) {
        await fillEntryForm(page, 'Fay');
        await page.getByRole('button', { name: 'Continue' }).click();
      }
      await joined.waitFor({ timeout: 30_000 });
      room.pageStatus = 'joined';
      room.facilitatorId = (await storedSeatMemberId(page)) ?? undefined;
      room.pageStreams.clear();
      room.pageFailing.clear();
    } catch (error) {
      this.#log(`${room.label}: the facilitator's page could not enter again (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Facilitator actions

  /** The facilitator page's connection drops (its sockets close); the page comes back by itself. */
  async #cutPage(room: Room): Promise<void> {
    await withTimeout(
      room.facilitator.page.evaluate(() => {
        for (const socket of (window as unknown as { __sockets?: WebSocket[] }).__sockets ?? []) socket.close();
      }),
      3000,
    );
  }

  /** A room command through the facilitator page's own socket; the acknowledgement's time, or undefined if refused. */
  async #command(room: Room, command: Record<string, unknown>): Promise<number | undefined> {
    let failure = 'no answer';
    const answer = (await withTimeout(
      rawRequest(room.facilitator.page, 'room:command', { command }).catch((error: unknown) => {
        failure = error instanceof Error ? error.message.split('\n')[0]! : String(error);
        return undefined;
      }),
      12_000,
    )) as { ok?: boolean; error?: { code?: string } } | undefined;
    if (answer?.ok === true) return Date.now();
    this.#log(`${room.label}: ${String(command['type'])} not acknowledged (${answer?.error?.code ?? failure})`);
    return undefined;
  }

  #inRoom(room: Room): ChaosMember[] {
    return room.members.filter((m) => m.state === 'in' && m.memberId);
  }

  /** Mute a member's microphone, camera or both; after a while ask them to turn it on again and they accept. */
  async #mute(room: Room, holdMs: number, during?: () => boolean): Promise<boolean> {
    const target = this.#pick(this.#inRoom(room));
    if (!target?.memberId) return false;
    const sources = this.#pick([['mic'], ['camera'], ['mic', 'camera']] as const)!;
    const silences: Silence[] = [];
    for (const source of sources) {
      const ackAt = await this.#command(room, { type: 'member.mute', memberId: target.memberId, source });
      if (ackAt === undefined) continue;
      if (during?.()) this.report.actionsDuringFaults++;
      silences.push(this.#silence(room, { memberId: target.memberId, name: target.name }, source === 'mic' ? 'audio' : 'video', ackAt, `${source} mute`));
    }
    if (silences.length === 0) return false;
    this.#log(`${room.label}: ${target.name} muted (${sources.join(' and ')})`);
    await pause(holdMs);
    for (const silence of silences) {
      const source = silence.kind === 'audio' ? 'mic' : 'camera';
      for (let attempt = 0; attempt < 10; attempt++) {
        const asked = await this.#command(room, { type: 'member.ask', memberId: silence.memberId, source });
        if (asked !== undefined) {
          // Lifted from the moment the answer is sent (anything later may flow): set before the
          // answer goes, since media may arrive before its acknowledgement does.
          silence.until = Date.now();
          try {
            await target.answerAsk(source);
            break;
          } catch {
            silence.until = Infinity; // not connected just now: still held
          }
        }
        await pause(1000);
      }
      if (silence.until === Infinity) this.#log(`${room.label}: ${target.name}'s ${source} hold could not be lifted`);
    }
    return true;
  }

  /** Remove a member (without blocking the link): it keeps sending as a modified client would; a newcomer takes the place. */
  async #remove(room: Room, during?: () => boolean): Promise<ChaosMember | undefined> {
    const target = this.#pick(this.#inRoom(room));
    if (!target?.memberId) return undefined;
    const ackAt = await this.#command(room, { type: 'member.remove', memberId: target.memberId, block: false });
    if (ackAt === undefined) return undefined;
    if (during?.()) this.report.actionsDuringFaults++;
    this.#log(`${room.label}: ${target.name} removed`);
    for (const kind of ['audio', 'video'] as const) this.#silence(room, { memberId: target.memberId, name: target.name }, kind, ackAt, 'removal');
    room.members = room.members.filter((m) => m !== target);
    room.retired.push(target);
    const check = setTimeout(() => {
      // Told at once, or (had it been away) on its way back.
      if (target.ended?.reason !== 'removed' && target.ended?.reason !== 'gone') this.#violation('endings', `${room.label}: ${target.name}'s removal did not reach it within 10 s (${target.state})`);
    }, 10_000);
    const retire = setTimeout(() => {
      target.close();
      room.retired = room.retired.filter((m) => m !== target);
    }, 12_000);
    this.#timers.push(check, retire);
    return target;
  }

  /** End the session from the facilitator's page; everyone in it must learn so within 10 s. */
  async #endSession(room: Room): Promise<void> {
    room.ending = true;
    const members = room.members.filter((m) => m.state === 'in' || m.state === 'away' || m.state === 'ended');
    // The page closes its connection on room:ended, which the server sends before the answer:
    // the ending is under way once the answer or any ending arrives.
    const begun = () => room.pageStatus === 'ended' || members.some((m) => m.ended);
    let sentAt: number | undefined;
    for (let attempt = 0; attempt < 5 && sentAt === undefined; attempt++) {
      const at = Date.now();
      const send = rawRequest(room.facilitator.page, 'room:command', { command: { type: 'session.end' } }).catch(() => undefined) as Promise<{ ok?: boolean } | undefined>;
      for (let waited = 0; waited < 5000 && sentAt === undefined; waited += 250) {
        if (begun()) sentAt = at;
        await pause(250);
      }
      if (sentAt === undefined && (await withTimeout(send, 1000))?.ok === true) sentAt = at;
    }
    if (sentAt === undefined) {
      this.#log(`${room.label}: the session could not be ended (no answer, nobody told)`);
      return;
    }
    const deadline = sentAt + 10_000;
    const reached = () => members.filter((m) => m.ended && m.ended.reason !== 'removed').length === members.length;
    while (Date.now() < deadline && !(reached() && room.pageStatus === 'ended')) await pause(250);
    for (const m of members) if (!m.ended) this.#violation('endings', `${room.label}: the session's end did not reach ${m.name} within 10 s (${m.state})`);
    if (room.pageStatus !== 'ended') this.#violation('endings', `${room.label}: the session's end did not reach the facilitator's page within 10 s (${room.pageStatus})`);
    this.#log(`${room.label}: session ended, reached ${members.filter((m) => m.ended).length}/${members.length} members${room.pageStatus === 'ended' ? ' and the page' : ''}`);
    for (const m of [...room.members, ...room.retired]) m.close();
    room.retired = [];
  }

  // -------------------------------------------------------------------------------------------
  // Faults

  /** The node to hit: usually (`homeShare` of the time) the home of some room, as that is where it hurts, else either. */
  #targetNode(homeShare = 0.75): StackNode {
    const nodes = this.#stack!.nodes;
    const homes = this.#rooms.map((r) => r.home).filter((h): h is string => !!h);
    const name = this.#random() < homeShare ? this.#pick(homes) : undefined;
    return nodes.find((n) => n.name === name) ?? this.#pick(nodes)!;
  }

  async #inject(kind: FaultKind): Promise<void> {
    this.#current = kind;
    this.report.faults[kind]++;
    const injectedAt = Date.now();
    for (const room of this.#rooms) for (const m of room.members) m.markGaps(injectedAt);
    let clearAt = injectedAt;
    switch (kind) {
      case 'node-sigkill': {
        const node = this.#targetNode();
        this.#log(`${kind}: node ${node.name} (home of ${this.#homeOf(node.name)})`);
        await node.kill();
        await node.restart();
        clearAt = Date.now();
        break;
      }
      case 'node-sigterm': {
        const node = this.#targetNode();
        this.#log(`${kind}: node ${node.name} (home of ${this.#homeOf(node.name)})`);
        await node.child.stop(10_000);
        await node.restart();
        clearAt = Date.now();
        break;
      }
      case 'worker-sigkill': {
        const node = this.#targetNode();
        const [pid] = mediasoupWorkerPids(node.child.process.pid ?? -1);
        this.#log(`${kind}: node ${node.name}'s mediasoup worker (home of ${this.#homeOf(node.name)})`);
        if (pid) process.kill(pid, 'SIGKILL');
        clearAt = Date.now();
        break;
      }
      case 'redis-cut-one': {
        const node = this.#targetNode(1);
        const proxy = this.#proxies.get(node.name)!;
        const holdMs = this.#between(3000, 10_000);
        this.#log(`${kind}: node ${node.name} loses Redis for ${(holdMs / 1000).toFixed(1)} s (home of ${this.#homeOf(node.name)})`);
        proxy.hold();
        proxy.cut();
        const until = Date.now() + holdMs;
        // Most times, in a room of that node, the facilitator's own connection blips during the
        // cut (so it may come back on the other node) and then they act, late in the cut.
        let action: Promise<unknown> = Promise.resolve();
        if (this.report.faults[kind] === 1 || this.#random() < 0.7) {
          const room = this.#pick(this.#rooms.filter((r) => r.home === node.name)) ?? this.#pick(this.#rooms)!;
          await pause(holdMs * 0.4);
          await this.#cutPage(room);
          await pause(Math.max(1000, holdMs * 0.35));
          const during = () => Date.now() < until;
          action =
            this.#random() < 0.5
              ? this.#mute(room, 4000, during)
              : this.#remove(room, during).then((removed) => (removed ? this.#addMember(room).catch(() => undefined) : undefined));
        }
        await pause(Math.max(0, until - Date.now()));
        proxy.resume();
        // The fault clears once Redis is back and the action's hold is lifted (its steps are
        // bounded: an unanswered command gives up after 12 s).
        await action;
        clearAt = Date.now();
        break;
      }
      case 'redis-outage-all': {
        const before = new Map(this.#rooms.map((r) => [r, r.home]));
        this.#log(`${kind}: both nodes lose Redis for 8 s`);
        for (const proxy of this.#proxies.values()) {
          proxy.hold();
          proxy.cut();
        }
        await pause(8000);
        for (const proxy of this.#proxies.values()) proxy.resume();
        clearAt = Date.now();
        await this.#recovery(kind, injectedAt, clearAt);
        await pause(Math.max(0, clearAt + 12_000 - Date.now()));
        for (const room of this.#rooms) {
          const was = before.get(room);
          if (was && room.home && was !== room.home) this.#violation('homeKept', `${room.label}: home ${was} → ${room.home} after the outage`);
        }
        return;
      }
      case 'member-cut': {
        const room = this.#pick(this.#rooms)!;
        if (this.#random() < 0.25) {
          this.#log(`${kind}: ${room.label} the facilitator page's connection drops`);
          await this.#cutPage(room);
          break;
        }
        const member = this.#pick(this.#inRoom(room));
        if (!member) break;
        const offlineMs = this.#between(500, 5000);
        this.#log(`${kind}: ${room.label} ${member.name}'s connection drops for ${(offlineMs / 1000).toFixed(1)} s`);
        member.cut(offlineMs);
        clearAt = Date.now() + offlineMs;
        break;
      }
      case 'mute': {
        const room = this.#pick(this.#rooms)!;
        await this.#mute(room, this.#between(3000, 6000));
        clearAt = Date.now();
        break;
      }
      case 'remove': {
        const room = this.#pick(this.#rooms)!;
        const removed = await this.#remove(room);
        if (removed) await this.#addMember(room).catch((error: unknown) => this.#log(`${room.label}: a newcomer could not join (${error instanceof Error ? error.message : String(error)})`));
        clearAt = Date.now();
        break;
      }
      case 'session-end': {
        const room = this.#pick(this.#rooms)!;
        this.#log(`${kind}: ${room.label}'s facilitator ends the session; a new one starts`);
        await this.#endSession(room);
        await this.#openRoom(room.index, room.facilitator, room);
        clearAt = Date.now();
        break;
      }
    }
    await this.#recovery(kind, injectedAt, clearAt);
  }

  #homeOf(node: string): string {
    const rooms = this.#rooms.filter((r) => r.home === node).map((r) => r.label);
    return rooms.length ? rooms.join(', ') : 'no room';
  }
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  return new ChaosRun(options).run();
}
