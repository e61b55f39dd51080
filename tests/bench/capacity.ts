import { spawn } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuUsage } from 'node:process';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { RtpCapabilities } from '@group-room/shared';
import { freePort } from '../../infra/stack/processes.js';
import { startProductionServer, type RunningServer } from '../support/prod-server.js';
import { createRoomWithSecrets, FrameKeys } from '../support/synthetic-keys.js';
import { RtpSink, RtpSource } from '../support/synthetic-member.js';
import { trackMediasoup, type SfuCounters, type Tracked } from './capacity-counters.js';
import { capacityHookModule } from './capacity-hook-module.js';
import type { GeneratedMember } from './capacity-generator.js';
import { affinity, cores, cpuSeconds, Generators, Hole, memoryMb, pin, udpDrops, udpDropsOfProcess, udpSocketCounters } from './capacity-load.js';
import { joinPlain, withoutFeedback, type PlainMember } from './capacity-member.js';
import { subscribeJanus, type JanusSubscriber } from './janus-subscriber.js';
import { janusInstalled, loopbackNamespace, runInLoopbackNamespace, startJanus } from './janus.js';
import { loopbackLimit, type LoopbackLimit } from './loopback-udp.js';

/*
 * npm run bench:capacity [-- <members per room> <max rooms> <video kbps>]
 *
 * How many rooms of M one SFU core carries, and what stopped it: rooms are added until loss
 * passes 1 % at the SFU, the SFU's core saturates (≥ 95 %), or the bench's own core does. Each
 * member sends opus-sized audio (50 packets/s) and VP8-shaped video (30 frames/s, a key frame
 * each second), every frame sealed end to end, and receives every other member's two streams.
 *
 * Systems: ours (the production server, one worker, SYNTHETIC_MEDIA=true, members through
 * Socket.IO with plain RTP transports), bare mediasoup (a worker and routers made here, nothing
 * around them), Janus VideoRoom (remote publishers in, RTP forwarders out). Two modes:
 * forwarding only (mediasoup consumers whose receivers declare no RTCP feedback: no NACK
 * buffers, no bandwidth estimation; Janus's RTP forwarders) and full receivers (consumers with
 * the router's NACK, PLI, FIR and transport-cc, as browsers receive, each receiver's media
 * encrypted with SRTP, AEAD_AES_256_GCM, as browsers' is; Janus's WebRTC subscribers,
 * janus-subscriber.ts, in a child process inside the bench's loopback namespace, as root).
 * Steps: 1, 4 and 8 rooms (each unless the cost so far says it would saturate the SFU's core),
 * then half way to the SFU core's saturation at the cost seen so far.
 * CAPACITY_RUNS=ours:full,janus:forwarding (for instance) runs only those.
 *
 * The load is cheap so the SFU runs out first (capacity-load.ts): generator processes send
 * pre-built packets; a few receivers' streams go to a sink that reads every packet (sequence
 * gaps: loss at the sink, and jitter), the others' to a hole no process reads (the kernel
 * counts the datagrams). Loss at the SFU is read from mediasoup's own counters:
 * packets sent by the generators vs received by the producers (dropped before the worker read
 * them), and each producer's packets × its consumers vs what the consumers sent. Janus's are not
 * read: its loss is the sink's. The SFU is pinned to core 0, everything else to the other
 * core(s) (taskset), where there are two or more.
 */

type System = 'ours' | 'bare' | 'janus';
export type Mode = 'forwarding' | 'full';

const settings = { members: 12, maxRooms: 30, videoKbps: 300, generators: 2, warmMs: 1000, windowMs: 3000 };
const LOSS_LIMIT = 0.01;
const CORE_LIMIT = 0.95;

export interface Step {
  rooms: number;
  streams: number;
  /** RTP packets/s the generators sent, and datagrams/s (RTP and RTCP) the SFU delivered to the sinks. */
  packetsInPerSec: number;
  packetsOutPerSec: number;
  /** Loss the stop rule uses: the SFU's own (mediasoup), else the sink's (Janus). */
  loss: number;
  /** Share of the packets sent that the kernel dropped at the SFU's receiving sockets (the SFU did not read them in time). */
  inboundLoss: number;
  /** mediasoup's: that inbound loss, and the share of what its producers received that its consumers did not send. */
  sfu?: { inbound: number; forwarding: number; nacks: number };
  /** At the sampled receivers (one per room): sequence gaps, and the share of them the bench's own socket dropped. */
  sinkLoss: number;
  /** NACKs Janus's WebRTC subscribers sent (full receivers), when every receiver is real. */
  receiverNacks?: number;
  lossAtSink: number;
  jitterMs: number;
  workerCore: number;
  /** Worker CPU per forwarded stream (share of a core). */
  workerPerStream: number;
  /** The bench's processes (main, generators, and our signalling process) as a share of one core. */
  generatorCore: number;
  /** A generator fell more than 100 ms behind during the window. */
  generatorLate: boolean;
  signallingRssMb?: number;
  workerRssMb: number;
}

export interface Run {
  system: System;
  mode: Mode;
  name: string;
  steps: Step[];
  stoppedBy: string;
  /** What stopped it, in one word (loss at the SFU, its core, the bench, or the maximum). */
  limit: 'loss' | 'core' | 'bench' | 'maximum';
}

interface ReceiverCounts {
  packets: number;
  lost: number;
  nacks: number;
  /** Datagrams the kernel dropped at the receiving process's sockets (the bench's limit, not the SFU's). */
  droppedByBench?: number;
}

interface Load {
  generators: Generators;
  hole: Hole;
  sample: RtpSink;
}

interface Backend {
  /** The process whose CPU is the SFU's (the worker; Janus's whole process). */
  sfuPid: number;
  /** Our signalling process, when there is one (its CPU counts as the bench's core's). */
  otherPids: number[];
  addRoom(index: number, load: Load): Promise<void>;
  counters?(every?: number): Promise<SfuCounters>;
  /** Where every receiver is a real endpoint (Janus's WebRTC subscribers): what they received and lost, and the NACKs they sent. */
  receivers?(): Promise<ReceiverCounts>;
  memory(): Promise<{ signallingRssMb?: number; workerRssMb: number }>;
  stop(): Promise<void>;
}

/**
 * Where a member's streams go: the first member of rooms 1–3 and of every 4th room after is
 * sampled by the reading sink (it reads every packet: sampling all rooms would load the bench's
 * core with as many packets as a room's SFU output), everyone else's go to the hole.
 */
const receivePort = (load: Load, room: number, member: number) => (member === 0 && (room <= 3 || room % 4 === 0) ? load.sample.port : load.hole.port);

// ---------------------------------------------------------------------------------------------
// Ours: the production server, its mediasoup objects counted by capacity-hook.ts in its process

async function oursBackend(mode: Mode, sfuCore: string | undefined): Promise<Backend> {
  const countersPort = await freePort();
  const hook = await capacityHookModule();
  const server: RunningServer = await startProductionServer({
    LOG_LEVEL: 'warn',
    MEDIASOUP_WORKERS: '1',
    SYNTHETIC_MEDIA: 'true',
    SOCKET_REQUESTS_PER_SECOND: '100000',
    MAX_MEDIA_ROOMS: '1000',
    // The web client is not needed here: no Next.js in the process.
    SERVE_WEB: 'false',
    CAPACITY_COUNTERS_PORT: String(countersPort),
    NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import ${hook}`,
  });
  const counters = async (every?: number) => (await (await fetch(`http://127.0.0.1:${countersPort}/counters${every ? `?every=${every}` : ''}`)).json()) as SfuCounters;
  const workerPid = (await counters()).workerPids[0];
  if (!workerPid) throw new Error('our server runs no mediasoup worker');
  if (sfuCore) await pin(workerPid, sfuCore);
  const members: PlainMember[] = [];
  const receive = mode === 'full' ? (c: RtpCapabilities) => c : withoutFeedback;
  return {
    sfuPid: workerPid,
    otherPids: [server.child.pid!],
    async addRoom(index, load) {
      const room = await createRoomWithSecrets(server.url, { title: `Load ${index}` });
      const join = (i: number, token: string) => joinPlain({ url: server.url, roomId: room.roomId, token, name: i ? `M${i}` : 'Host', receivePort: receivePort(load, index, i), receive, srtp: mode === 'full', videoKbps: settings.videoKbps });
      const host = await join(0, room.facilitatorToken);
      await host.socket.timeout(15_000).emitWithAck('room:command', { command: { type: 'room.setAutoAdmit', enabled: true } });
      const others = await Promise.all(Array.from({ length: settings.members - 1 }, (_, i) => join(i + 1, room.inviteToken)));
      members.push(host, ...others);
      await load.generators.add([host, ...others].map((m) => ({ port: m.sendPort, audioSsrc: m.audioSsrc, videoSsrc: m.videoSsrc, videoKbps: settings.videoKbps })));
    },
    counters,
    async memory() {
      return { signallingRssMb: (await memoryMb(server.child.pid!)).rss, workerRssMb: (await memoryMb(workerPid)).peak };
    },
    async stop() {
      await Promise.all(members.map((m) => m.leave()));
      await server.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Bare mediasoup: the same RTP through routers made directly, nothing around them

const bareCodecs: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48_000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90_000 },
];

/** Full receivers get SRTP, as browsers (and Janus's subscribers) do: the suite both negotiate. */
const FULL_RECEIVER_SRTP = { enableSrtp: true, srtpCryptoSuite: 'AEAD_AES_256_GCM' as const };

/** This process's mediasoup objects (bare mediasoup's), followed once for every run. */
let bareTracked: Tracked | undefined;

async function bareBackend(mode: Mode, sfuCore: string | undefined): Promise<Backend> {
  bareTracked ??= trackMediasoup(mediasoup.observer);
  const tracked = bareTracked;
  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  if (sfuCore) await pin(worker.pid, sfuCore);
  const listenInfo = { protocol: 'udp' as const, ip: '127.0.0.1' };
  return {
    sfuPid: worker.pid,
    otherPids: [],
    async addRoom(index, load) {
      const router = await worker.createRouter({ mediaCodecs: bareCodecs });
      const caps = (mode === 'full' ? router.rtpCapabilities : withoutFeedback(router.rtpCapabilities as RtpCapabilities)) as types.RtpCapabilities;
      const people: { spec: GeneratedMember; recv: types.PlainTransport; producers: types.Producer[] }[] = [];
      for (let i = 0; i < settings.members; i++) {
        const source = new RtpSource(settings.videoKbps);
        const send = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: true });
        const recv = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false, ...(mode === 'full' ? FULL_RECEIVER_SRTP : {}) });
        await recv.connect({ ip: '127.0.0.1', port: receivePort(load, index, i), ...(recv.srtpParameters ? { srtpParameters: recv.srtpParameters } : {}) });
        const producers = [
          await send.produce({ kind: 'audio', rtpParameters: source.rtpParameters('audio') as types.RtpParameters }),
          await send.produce({ kind: 'video', rtpParameters: source.rtpParameters('video') as types.RtpParameters }),
        ];
        people.push({ spec: { port: send.tuple.localPort, audioSsrc: source.audioSsrc, videoSsrc: source.videoSsrc, videoKbps: settings.videoKbps }, recv, producers });
      }
      for (const receiver of people) {
        for (const other of people) {
          if (other === receiver) continue;
          for (const producer of other.producers) await receiver.recv.consume({ producerId: producer.id, rtpCapabilities: caps });
        }
      }
      await load.generators.add(people.map((p) => p.spec));
    },
    counters: (every) => tracked.read(every),
    async memory() {
      return { workerRssMb: (await memoryMb(worker.pid)).peak };
    },
    async stop() {
      worker.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Janus VideoRoom: remote publishers in, RTP forwarders out

/** Janus's remote publishers tell a publisher's streams apart by SSRC: 1000 + 10 × mindex. */
const JANUS_SSRCS = { audio: 1000, video: 1010 };

/**
 * Forwarding only: each member's view of another is an RTP forwarder per stream to the hole or
 * the sink. Full receivers: each member is a WebRTC subscriber (janus-subscriber.ts: ICE,
 * DTLS-SRTP, NACKs and receiver reports, received by a mediasoup worker of the bench's, on the
 * bench's core), which Janus reaches only inside the bench's loopback namespace (janus.ts).
 */
async function janusBackend(mode: Mode, sfuCore: string | undefined): Promise<Backend> {
  const janus = await startJanus(sfuCore ? { cpus: sfuCore } : {});
  let nextSsrc = 100_000;
  const full =
    mode === 'full'
      ? {
          worker: await mediasoup.createWorker({ logLevel: 'warn' }),
          subscribers: [] as JanusSubscriber[],
        }
      : undefined;
  return {
    sfuPid: janus.pid,
    otherPids: full ? [full.worker.pid] : [],
    async addRoom(room, load) {
      await janus.api.videoroom({ request: 'create', room, publishers: settings.members + 1, audiocodec: 'opus', videocodec: 'vp8', bitrate: 0 });
      const specs: GeneratedMember[] = [];
      for (let i = 0; i < settings.members; i++) {
        const publisher = await janus.api.videoroom({
          request: 'add_remote_publisher',
          room,
          id: i + 1,
          display: `M${i}`,
          iface: '127.0.0.1',
          streams: [
            { type: 'audio', mindex: 0, mid: '0', codec: 'opus' },
            { type: 'video', mindex: 1, mid: '1', codec: 'vp8' },
          ],
        });
        specs.push({ port: Number(publisher.port), audioSsrc: JANUS_SSRCS.audio, videoSsrc: JANUS_SSRCS.video, videoKbps: settings.videoKbps });
      }
      const ids = specs.map((_, i) => i + 1);
      if (full) {
        // Each member one PeerConnection taking every other member's feeds; a few handshakes at a
        // time, each tried twice (under load Janus gave up on DTLS with twelve at once).
        const subscribe = (id: number) => subscribeJanus({ janusUrl: janus.apiUrl, room, feeds: ids.filter((f) => f !== id), worker: full.worker, timeoutMs: 20_000 });
        for (let at = 0; at < ids.length; at += 4) {
          full.subscribers.push(...(await Promise.all(ids.slice(at, at + 4).map((id) => subscribe(id).catch(() => subscribe(id))))));
        }
      } else {
        // Each member receives every other member's audio and video: one forwarder per stream, its own SSRC.
        for (const receiver of ids) {
          for (const publisher of ids) {
            if (publisher === receiver) continue;
            const port = receivePort(load, room, receiver - 1);
            await janus.api.videoroom({
              request: 'rtp_forward',
              room,
              publisher_id: publisher,
              host: '127.0.0.1',
              streams: [
                { mid: '0', port, ssrc: nextSsrc++ },
                { mid: '1', port, ssrc: nextSsrc++ },
              ],
            });
          }
        }
      }
      await load.generators.add(specs);
    },
    ...(full
      ? {
          async receivers() {
            const all = await Promise.all(full.subscribers.map((s) => s.stats()));
            const droppedByBench = await udpDropsOfProcess(full.worker.pid);
            return all.reduce<ReceiverCounts>((sum, c) => ({ ...sum, packets: sum.packets + c.packets, lost: sum.lost + c.lost, nacks: sum.nacks + c.nacks }), { packets: 0, lost: 0, nacks: 0, droppedByBench });
          },
        }
      : {}),
    async memory() {
      return { workerRssMb: (await memoryMb(janus.pid)).rss };
    },
    async stop() {
      if (full) {
        await Promise.all(full.subscribers.map((s) => s.close().catch(() => undefined)));
        full.worker.close();
      }
      await janus.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// For bench:placement: members sending from this process (one shared timer), rooms on a router

/** A shared sender: one timer for every source (many timers would cost the generator more than the sends). */
export class Sender {
  readonly #targets: { source: RtpSource; send: (packet: Buffer) => void }[] = [];
  #tick = 0;
  readonly #timer = setInterval(() => this.#step(), 1000 / 150);

  add(source: RtpSource, send: (packet: Buffer) => void): void {
    this.#targets.push({ source, send });
  }

  get sources(): RtpSource[] {
    return this.#targets.map((t) => t.source);
  }

  /** Every 1/150 s; audio every 3rd tick (50/s), video every 5th (30/s); sealed frames go out once sealed. */
  #step(): void {
    this.#tick++;
    for (const { source, send } of this.#targets) {
      if (this.#tick % 3 === 0) source.audioTo(send);
      if (this.#tick % 5 === 0) source.videoTo(send);
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/**
 * One room of `members` on a router: each member a plain send transport (its RTP from `sender`)
 * and a plain receive transport to `sink` consuming everyone else, nothing else around it.
 */
export async function bareRoom(router: types.Router, members: number, sink: RtpSink, sender: Sender, sockets: UdpSocket[]): Promise<RtpSource[]> {
  const listenInfo = { protocol: 'udp' as const, ip: '127.0.0.1' };
  const people: { source: RtpSource; recv: types.PlainTransport; producers: types.Producer[] }[] = [];
  for (let i = 0; i < members; i++) {
    const source = new RtpSource(settings.videoKbps, { seal: (await FrameKeys.local()).seal });
    const send = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: true });
    const recv = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false });
    await recv.connect({ ip: '127.0.0.1', port: sink.port });
    const producers = [
      await send.produce({ kind: 'audio', rtpParameters: source.rtpParameters('audio') as types.RtpParameters }),
      await send.produce({ kind: 'video', rtpParameters: source.rtpParameters('video') as types.RtpParameters }),
    ];
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    sockets.push(udp);
    const port = send.tuple.localPort;
    sender.add(source, (packet) => udp.send(packet, port, '127.0.0.1'));
    people.push({ source, recv, producers });
  }
  for (const receiver of people) {
    for (const other of people) {
      if (other === receiver) continue;
      for (const producer of other.producers) await receiver.recv.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    }
  }
  return people.map((p) => p.source);
}


// ---------------------------------------------------------------------------------------------
// Stepping up

const makers: Record<System, (mode: Mode, sfuCore: string | undefined) => Promise<Backend>> = { ours: oursBackend, bare: bareBackend, janus: janusBackend };
const NAMES: Record<System, string> = { ours: 'ours', bare: 'bare mediasoup', janus: 'Janus VideoRoom' };
export const runName = (system: System, mode: Mode) => `${NAMES[system]}, ${mode === 'full' ? 'full receivers' : system === 'janus' ? 'forwarding only (RTP forwarders)' : 'forwarding only'}`;

/**
 * The quick counts at one edge of a window: packets the generators sent, what the kernel
 * dropped at the SFU's receiving sockets, the hole's datagrams. They are taken inside the
 * slow reads of the SFU's counters (after them at the start, before them at the end): a flood
 * of getStats requests holds a worker up long enough to overflow its sockets, and that is the
 * measurement's doing, not the load's.
 */
async function quickCounts(load: Load) {
  const started = performance.now();
  const { sent, late } = await load.generators.sent();
  const [drops, hole] = await Promise.all([udpDrops(load.generators.targets), load.hole.datagrams()]);
  return { at: (started + performance.now()) / 2, sent, late, drops, hole };
}

/** The SFU's own counters and the real receivers' (each self-consistent: what comes in and goes out is read together). */
async function slowCounts(backend: Backend, every?: number) {
  const started = performance.now();
  const [counters, receivers] = await Promise.all([backend.counters?.(every), backend.receivers?.()]);
  return { at: (started + performance.now()) / 2, counters, receivers };
}

async function benchCpu(backend: Backend, load: Load): Promise<number> {
  const own = cpuUsage();
  const others = await Promise.all([...load.generators.pids, ...backend.otherPids].map((pid) => cpuSeconds(pid).catch(() => 0)));
  return (own.user + own.system) / 1e6 + others.reduce((a, b) => a + b, 0);
}

async function measure(backend: Backend, load: Load, rooms: number): Promise<Step> {
  await new Promise((resolve) => setTimeout(resolve, settings.warmMs));
  const aSlow = await slowCounts(backend);
  const a = await quickCounts(load);
  load.sample.reset();
  const sinkDrops = (await udpSocketCounters(load.sample.port)).drops;
  const workerBefore = await cpuSeconds(backend.sfuPid);
  const benchBefore = await benchCpu(backend, load);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, settings.windowMs));
  const seconds = (performance.now() - started) / 1000;
  const worker = (await cpuSeconds(backend.sfuPid)) - workerBefore;
  const bench = (await benchCpu(backend, load)) - benchBefore;
  const sink = load.sample.totals();
  const dropped = (await udpSocketCounters(load.sample.port)).drops - sinkDrops;
  const b = await quickCounts(load);
  const bSlow = await slowCounts(backend, aSlow.counters?.every);
  const edgeSeconds = (b.at - a.at) / 1000;
  const streams = rooms * settings.members * (settings.members - 1) * 2;
  // Real receivers (Janus's subscribers) count for themselves: every one of them, not a sample.
  const received =
    aSlow.receivers && bSlow.receivers
      ? { packets: bSlow.receivers.packets - aSlow.receivers.packets, lost: bSlow.receivers.lost - aSlow.receivers.lost, nacks: bSlow.receivers.nacks - aSlow.receivers.nacks, droppedByBench: (bSlow.receivers.droppedByBench ?? 0) - (aSlow.receivers.droppedByBench ?? 0) }
      : undefined;
  const sinkLoss = received ? received.lost / Math.max(1, received.packets + received.lost) : sink.expected ? sink.lost / sink.expected : 0;
  const inbound = (b.drops - a.drops) / (b.sent - a.sent);
  const sfu: Step['sfu'] =
    aSlow.counters && bSlow.counters
      ? {
          inbound,
          forwarding: 1 - (bSlow.counters.consumerPackets - aSlow.counters.consumerPackets) / (bSlow.counters.expectedOut - aSlow.counters.expectedOut),
          nacks: bSlow.counters.nacks - aSlow.counters.nacks,
        }
      : undefined;
  return {
    rooms,
    streams,
    packetsInPerSec: (b.sent - a.sent) / edgeSeconds,
    packetsOutPerSec: received ? received.packets / ((bSlow.at - aSlow.at) / 1000) : (b.hole - a.hole) / edgeSeconds + sink.packets / seconds,
    // Janus's counters are not read: its loss is what the sampled receivers miss (which includes what it never read in).
    loss: sfu ? 1 - (1 - sfu.inbound) * (1 - Math.max(0, sfu.forwarding)) : sinkLoss,
    inboundLoss: inbound,
    ...(sfu ? { sfu } : {}),
    sinkLoss,
    ...(received ? { receiverNacks: received.nacks } : {}),
    lossAtSink: received ? (received.lost ? Math.min(1, received.droppedByBench / received.lost) : 0) : sink.lost ? Math.min(1, dropped / sink.lost) : 0,
    jitterMs: sink.jitterMs,
    workerCore: worker / seconds,
    workerPerStream: worker / seconds / streams,
    generatorCore: bench / seconds,
    generatorLate: b.late > a.late,
    ...(await backend.memory()),
  };
}

const pct = (x: number, digits = 0) => `${(x * 100).toFixed(digits)} %`;

function stepLine(name: string, s: Step): string {
  const sfu = s.sfu ? `SFU loss ${pct(s.loss, 2)} (not read in ${pct(s.sfu.inbound, 2)}, not forwarded ${pct(s.sfu.forwarding, 2)}${s.sfu.nacks ? `, ${s.sfu.nacks} NACKs` : ''}), ` : '';
  return `  ${name}: ${s.rooms} rooms, ${s.streams} streams, in ${s.packetsInPerSec.toFixed(0)} pkt/s, out ${s.packetsOutPerSec.toFixed(0)} datagrams/s, ${sfu}${s.sfu ? '' : `not read in ${pct(s.inboundLoss, 2)}, `}sink loss ${pct(s.sinkLoss, 2)}${s.lossAtSink > 0 ? ` (${pct(s.lossAtSink)} of it at the bench's socket)` : ''}, jitter ${s.jitterMs.toFixed(1)} ms, SFU ${pct(s.workerCore)} of its core (${(s.workerPerStream * 1e5).toFixed(1)} per 100k per stream), bench ${pct(s.generatorCore)}${s.generatorLate ? ' (a generator fell behind)' : ''}\n`;
}

/** Room counts every system is measured at (× the step size), below its limit: costs compare there at the same number of rooms. */
const CHECKPOINTS = [1, 4, 8];

/**
 * The next number of rooms: the checkpoints first, then half the way to where the SFU's core
 * would saturate at the cost per room seen so far (so a run takes few steps far from its limit
 * and single ones near it). A step is about one room of 12's streams (more rooms when smaller).
 */
function nextRooms(rooms: number, steps: Step[]): number {
  const base = Math.max(1, Math.round(132 / (settings.members * (settings.members - 1))));
  // The dearest cost per room seen so far: one low reading (the core taken by something else) must not send the run far past its limit.
  const perRoom = steps.length ? Math.max(...steps.map((s) => s.workerCore / s.rooms)) : 0;
  // A checkpoint the cost so far says would saturate the core is left out: on a slow machine
  // 4 → 8 rooms would jump from half a core to past its limit, and "held 4" say little.
  const checkpoint = CHECKPOINTS.map((c) => c * base).find((c) => c > rooms);
  if (checkpoint !== undefined && !(perRoom > 0 && checkpoint * perRoom >= CORE_LIMIT)) return checkpoint;
  const last = steps.at(-1);
  if (!last || last.loss > 0.002 || !(perRoom > 0)) return rooms + base;
  const headroom = (CORE_LIMIT - rooms * perRoom) / perRoom;
  return rooms + Math.max(base, Math.floor(headroom / 2 / base) * base);
}

export async function stepUp(system: System, mode: Mode): Promise<Run> {
  const pinned = cores();
  const name = runName(system, mode);
  const load: Load = { generators: await Generators.start(settings.generators), hole: await Hole.open(), sample: await RtpSink.open() };
  const steps: Step[] = [];
  let stoppedBy = `the maximum of ${settings.maxRooms} rooms`;
  let limit: Run['limit'] = 'maximum';
  let backend: Backend | undefined;
  try {
    backend = await makers[system](mode, pinned?.sfu);
    let rooms = 0;
    while (rooms < settings.maxRooms) {
      const target = Math.min(settings.maxRooms, nextRooms(rooms, steps));
      while (rooms < target) await backend.addRoom(++rooms, load);
      const step = await measure(backend, load, rooms);
      steps.push(step);
      process.stdout.write(stepLine(name, step));
      if (step.loss > LOSS_LIMIT) {
        [limit, stoppedBy] = ['loss', `loss above ${pct(LOSS_LIMIT)} at ${step.sfu ? 'the SFU (its own counters)' : 'the sink (sequence gaps)'} at ${rooms} rooms`];
        break;
      }
      if (step.workerCore >= CORE_LIMIT) {
        [limit, stoppedBy] = ['core', `the SFU's core saturated at ${rooms} rooms (${pct(step.workerCore)})`];
        break;
      }
      if (step.generatorCore >= CORE_LIMIT || step.lossAtSink > 0.5) {
        [limit, stoppedBy] = ['bench', `the bench's own core at ${rooms} rooms (the SFU was not the limit)`];
        break;
      }
    }
  } finally {
    load.generators.stop();
    await backend?.stop();
    load.hole.close();
    load.sample.close();
  }
  return { system, mode, name, steps, stoppedBy, limit };
}

/** The last step within the limits. */
export const held = (steps: Step[]) => [...steps].reverse().find((s) => s.loss <= LOSS_LIMIT && s.workerCore < CORE_LIMIT) ?? steps[0]!;

export interface CapacityReport {
  members: number;
  videoKbps: number;
  warmMs: number;
  windowMs: number;
  generators: number;
  /** How the SFU and the bench were kept apart (taskset), or why not. */
  pinning: string;
  runs: Run[];
  /** Why Janus's full receivers (WebRTC subscribers) were not measured, when they were not. */
  janusFullNotMeasured?: string;
  loopback: LoopbackLimit;
}

/** Worker CPU per forwarded stream, ours ÷ another system's, at the most rooms both held in one mode. */
export function perStreamRatio(report: CapacityReport, mode: Mode, other: System): { ratio: number; rooms: number } | undefined {
  const find = (system: System) => report.runs.find((r) => r.system === system && r.mode === mode);
  const ours = find('ours');
  const them = find(other);
  if (!ours || !them || !ours.steps.length || !them.steps.length) return undefined;
  // The most rooms both measured within their limits (steps may skip rooms; both start at 1).
  const within = (steps: Step[]) => new Map(steps.filter((s) => s.rooms <= held(steps).rooms).map((s) => [s.rooms, s]));
  const o = within(ours.steps);
  const t = within(them.steps);
  const rooms = Math.max(...[...o.keys()].filter((r) => t.has(r)));
  if (!Number.isFinite(rooms)) return undefined;
  return { ratio: o.get(rooms)!.workerPerStream / t.get(rooms)!.workerPerStream, rooms };
}

export interface CapacityOptions {
  members?: number;
  maxRooms?: number;
  videoKbps?: number;
  /** Which systems and modes to run (all by default). */
  runs?: { system: System; mode: Mode }[];
  warmMs?: number;
  windowMs?: number;
}

const ALL_RUNS: { system: System; mode: Mode }[] = [
  { system: 'ours', mode: 'forwarding' },
  { system: 'bare', mode: 'forwarding' },
  { system: 'janus', mode: 'forwarding' },
  { system: 'ours', mode: 'full' },
  { system: 'bare', mode: 'full' },
  { system: 'janus', mode: 'full' },
];

/**
 * Janus's full receivers: in a process of its own inside the bench's loopback network
 * namespace (Janus's WebRTC reaches peers only there: janus.ts), this same file run with
 * CAPACITY_CHILD; its Run comes back as JSON in a file. Undefined with the reason when it
 * cannot be measured here.
 */
async function janusFullRun(): Promise<Run | string> {
  if (loopbackNamespace()) return stepUp('janus', 'full');
  if (process.getuid?.() !== 0) return "not measured: Janus's WebRTC needs the bench's own network namespace, which needs root";
  const file = path.join(os.tmpdir(), `capacity-janus-full-${process.pid}.json`);
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    stdio: 'inherit',
    env: { ...process.env, CAPACITY_CHILD: file, CAPACITY_SETTINGS: JSON.stringify(settings) },
  });
  const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
  const result = await readFile(file, 'utf8').catch(() => undefined);
  await rm(file, { force: true });
  return code === 0 && result ? (JSON.parse(result) as Run) : `not measured: the run in the network namespace failed (exit ${code}; its output is above)`;
}

export async function capacity(options: CapacityOptions = {}): Promise<CapacityReport> {
  const { runs = ALL_RUNS, ...rest } = options;
  Object.assign(settings, rest);
  const pinned = cores();
  // The bench (this process and every process it starts from now on) off the SFU's core, until
  // the end: the process that called (npm run bench) runs the other benches, browsers and all,
  // afterwards, and must have every core back for them.
  const before = await affinity(process.pid);
  if (pinned) await pin(process.pid, pinned.bench);
  try {
    return await measureCapacity(pinned, runs);
  } finally {
    if (pinned) await pin(process.pid, before);
  }
}

async function measureCapacity(pinned: ReturnType<typeof cores>, runs: readonly { system: System; mode: Mode }[]): Promise<CapacityReport> {
  const pinning = pinned
    ? `the SFU (mediasoup worker, or Janus's whole process) on core ${pinned.sfu}; the bench (main process, ${settings.generators} generator processes, the hole, our signalling process) on core ${pinned.bench} (taskset)`
    : 'one core: the SFU and the bench share it (no pinning)';
  process.stdout.write(
    `bench:capacity — rooms of ${settings.members} (audio 50 pkt/s, video ${settings.videoKbps} kbit/s at 30 fps, every frame sealed end to end); ${pinning}; each step: ${settings.warmMs / 1000} s warm-up, ${settings.windowMs / 1000} s measured\n`,
  );
  const done: Run[] = [];
  let janusFullNotMeasured: string | undefined;
  for (const { system, mode } of runs) {
    if (system === 'janus' && !janusInstalled()) {
      process.stdout.write(`  ${runName(system, mode)}: not measured (apt-get install janus)\n`);
      continue;
    }
    const run = system === 'janus' && mode === 'full' ? await janusFullRun() : await stepUp(system, mode);
    if (typeof run === 'string') {
      janusFullNotMeasured = run;
      process.stdout.write(`  ${runName(system, mode)}: ${run}\n`);
      continue;
    }
    process.stdout.write(`  → ${run.name}: held ${held(run.steps).rooms} rooms; stopped by ${run.stoppedBy}\n`);
    done.push(run);
  }
  const loopback = await loopbackLimit();
  const report: CapacityReport = {
    members: settings.members,
    videoKbps: settings.videoKbps,
    warmMs: settings.warmMs,
    windowMs: settings.windowMs,
    generators: settings.generators,
    pinning,
    runs: done,
    ...(janusFullNotMeasured ? { janusFullNotMeasured } : {}),
    loopback,
  };
  const lines = [''];
  for (const run of done) {
    const h = held(run.steps);
    lines.push(`  ${run.name}: held ${h.rooms} rooms (${h.streams} streams, ${h.packetsOutPerSec.toFixed(0)} datagrams/s out, SFU ${pct(h.workerCore)}) — stopped by ${run.stoppedBy}`);
  }
  for (const mode of ['forwarding', 'full'] as const) {
    for (const other of ['bare', 'janus'] as const) {
      const r = perStreamRatio(report, mode, other);
      if (r) lines.push(`  SFU CPU per forwarded stream, ${mode === 'full' ? 'full receivers' : 'forwarding only'}, ours ÷ ${NAMES[other]}: ${r.ratio.toFixed(2)} (at ${r.rooms} rooms each)`);
    }
  }
  lines.push(`  loopback UDP (${loopback.tool}): ${loopback.sendPerSec.toFixed(0)} pkt/s sent by one core, ${loopback.receivePerSec.toFixed(0)} received (${loopback.packetBytes}-byte packets)`, '');
  process.stdout.write(lines.join('\n'));
  return report;
}

/** The Janus full-receivers run, as a child (see janusFullRun): into the namespace, then run and write the result. */
async function child(file: string): Promise<number> {
  if (!loopbackNamespace()) return runInLoopbackNamespace();
  Object.assign(settings, JSON.parse(process.env['CAPACITY_SETTINGS'] ?? '{}'));
  const pinned = cores();
  if (pinned) await pin(process.pid, pinned.bench);
  await writeFile(file, JSON.stringify(await stepUp('janus', 'full')));
  return 0;
}

const childFile = process.env['CAPACITY_CHILD'];
if (childFile && import.meta.url === `file://${process.argv[1]}`) {
  child(childFile).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`bench:capacity (Janus, full receivers) failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const [members, maxRooms, videoKbps] = process.argv.slice(2).map(Number);
  const only = process.env['CAPACITY_RUNS']?.split(',').map((s) => {
    const [system, mode] = s.split(':') as [System, Mode];
    return { system, mode };
  });
  capacity({ ...(members ? { members } : {}), ...(maxRooms ? { maxRooms } : {}), ...(videoKbps ? { videoKbps } : {}), ...(only ? { runs: only } : {}) }).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench:capacity failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
