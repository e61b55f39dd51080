import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { cpuUsage } from 'node:process';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { freePort } from '../../infra/stack/processes.js';
import { startProductionServer, type RunningServer } from '../support/prod-server.js';
import { createRoomWithSecrets, FrameKeys } from '../support/synthetic-keys.js';
import { RtpSink, RtpSource, SyntheticMember } from '../support/synthetic-member.js';
import { janusInstalled, startJanus } from './janus.js';
import { loopbackLimit, type LoopbackLimit } from './loopback-udp.js';

/*
 * npm run bench:capacity [-- <members per room> <max rooms> <video kbps>]
 *
 * How many rooms one mediasoup worker (one core) carries, through our whole path and through
 * bare mediasoup, side by side, with the machine's own loopback UDP limit below both. Each
 * room has M synthetic members sending opus-sized audio (50 packets/s) and VP8-shaped video;
 * every member receives every other's two streams into a UDP sink that counts packets and
 * losses. Rooms are added one at a time until loss passes 1 %, the worker's core is
 * saturated, or the maximum is reached; each step is measured over a 5 s window.
 *
 * Ours: the production server (one worker, SYNTHETIC_MEDIA=true), members through Socket.IO,
 * the entry agreement, auto-admit and plain RTP transports; CPU and memory from its
 * Prometheus metrics. Bare: a worker and routers made directly in this process, the same
 * members' RTP, nothing else. Janus: Debian's Janus 1.1 VideoRoom pinned to one core, each
 * member a remote publisher (plain RTP in, as ours) and each member's view of the others an
 * RTP forwarder to the sink (plain RTP out, as ours): the same packets in and out.
 *
 * Every frame is end-to-end encrypted, as browsers send them: each member seals each audio and
 * video frame (SFrame, a fresh counter each) before packetizing it. Ours: the members take part
 * in the key handshake through the server (the host holds the room secret and hands out the
 * keys), and send nothing until they have a key. Bare and Janus have no handshake: each member
 * seals with a key of its own, so the same envelopes cross them and the generator works as hard.
 * What sealing costs the generator is measured first, on its own.
 */

/** Members per room, most rooms to try, video bitrate: set by `capacity()`. */
const settings = { members: 12, maxRooms: 10, videoKbps: 300 };
const WARM_MS = 2000;
const WINDOW_MS = 5000;
const LOSS_LIMIT = 0.01;
const CORE_LIMIT = 0.95;

interface Step {
  rooms: number;
  streams: number;
  packetsInPerSec: number;
  packetsOutPerSec: number;
  loss: number;
  /** Share of the packets lost that the kernel dropped at the load generator's own receiving socket (its buffer full): the generator's limit, not the SFU's. */
  lossAtGenerator: number;
  jitterMs: number;
  workerCore: number;
  /** Worker CPU per forwarded stream, as a share of a core (×1000: per mille). */
  workerPerStream: number;
  generatorCore: number;
  signallingRssMb?: number;
  workerRssMb: number;
}

interface Backend {
  name: string;
  addRoom(index: number, sink: RtpSink): Promise<RtpSource[]>;
  workerCpuSeconds(): Promise<number>;
  memory(): Promise<{ signallingRssMb?: number; workerRssMb: number }>;
  stop(): Promise<void>;
}

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

// ---------------------------------------------------------------------------------------------
// What end-to-end encryption costs the load generator

export interface SealingCost {
  members: number;
  /** CPU of this process (every thread) per member, as a share of a core: frames sealed and packetized, and plain. */
  sealedCore: number;
  plainCore: number;
  /** CPU per sealed frame, beyond building it plain (µs). */
  microsPerFrame: number;
  /** What sealing adds to each frame (SFrame header and tag, bytes), and to the RTP sent. */
  bytesPerFrame: number;
  wireShare: number;
}

/**
 * `members` sources at the bench's bitrate for `seconds`, once sealing every frame and once
 * plain, through the same shared timer; packets are built and counted, not sent (sending costs
 * the same either way). The difference is what sealing costs.
 */
export async function sealingCost(members = 10, seconds = 5): Promise<SealingCost> {
  const run = async (sealed: boolean) => {
    const keys = await Promise.all(Array.from({ length: members }, (_, i) => FrameKeys.local(`m${i}`)));
    const sender = new Sender();
    let bytes = 0;
    const sources = keys.map((k) => new RtpSource(settings.videoKbps, sealed ? { seal: k.seal } : {}));
    for (const source of sources) sender.add(source, (packet) => (bytes += packet.length));
    const before = cpuUsage();
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    sender.stop();
    while (sources.some((source) => source.pending > 0)) await new Promise((resolve) => setTimeout(resolve, 5));
    const elapsed = (performance.now() - started) / 1000;
    const cpu = cpuUsage(before);
    const frames = keys.reduce((n, k) => n + k.totals.sealed, 0);
    const added = keys.reduce((n, k) => n + k.totals.sealedBytes - k.totals.plainBytes, 0);
    return { core: (cpu.user + cpu.system) / 1e6 / elapsed / members, cpuSeconds: (cpu.user + cpu.system) / 1e6, bytesPerSecond: bytes / elapsed, frames, added };
  };
  await run(true); // warm up (JIT, WebCrypto's threads)
  const plain = await run(false);
  const sealed = await run(true);
  return {
    members,
    sealedCore: sealed.core,
    plainCore: plain.core,
    microsPerFrame: ((sealed.cpuSeconds - plain.cpuSeconds) / sealed.frames) * 1e6,
    bytesPerFrame: sealed.added / sealed.frames,
    wireShare: sealed.bytesPerSecond / plain.bytesPerSecond - 1,
  };
}

// ---------------------------------------------------------------------------------------------
// Ours: the production server

async function oursBackend(sender: Sender): Promise<Backend> {
  const metricsPort = await freePort();
  const server: RunningServer = await startProductionServer({
    LOG_LEVEL: 'warn',
    MEDIASOUP_WORKERS: '1',
    SYNTHETIC_MEDIA: 'true',
    METRICS_PORT: String(metricsPort),
    SOCKET_REQUESTS_PER_SECOND: '100000',
    MAX_MEDIA_ROOMS: '1000',
  });
  const joined: SyntheticMember[] = [];
  const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const sample = (text: string, series: string) => Number(text.split('\n').find((l) => l.startsWith(`${series} `))?.slice(series.length + 1) ?? NaN);
  return {
    name: 'ours',
    async addRoom(index, sink) {
      const created = await createRoomWithSecrets(server.url, { title: `Load ${index}` });
      const { roomId, facilitatorToken, inviteToken } = created;
      const host = await SyntheticMember.join({ url: server.url, roomId, token: facilitatorToken, secret: created.facilitatorSecret, name: 'Host', sink, videoKbps: settings.videoKbps });
      await host.socket.timeout(15_000).emitWithAck('room:command', { command: { type: 'room.setAutoAdmit', enabled: true } });
      const room = [host];
      for (let i = 1; i < settings.members; i++) room.push(await SyntheticMember.join({ url: server.url, roomId, token: inviteToken, secret: created.inviteSecret, name: `M${i}`, sink, videoKbps: settings.videoKbps }));
      joined.push(...room);
      // Nothing is sent before a member has a key: the room is loaded once all have one.
      await Promise.all(room.map((m) => m.keyed()));
      return room.map((m) => {
        const target = m.sendTarget();
        sender.add(m.source, (packet) => m.udp.send(packet, target.port, target.ip));
        return m.source;
      });
    },
    async workerCpuSeconds() {
      return sample(await scrape(), 'group_room_worker_cpu_seconds{worker="0"}');
    },
    async memory() {
      const text = await scrape();
      return {
        signallingRssMb: sample(text, 'group_room_process_resident_memory_bytes') / 1e6,
        workerRssMb: sample(text, 'group_room_worker_max_rss_bytes{worker="0"}') / 1e6,
      };
    },
    async stop() {
      for (const m of joined) await m.leave();
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

async function bareBackend(sender: Sender): Promise<Backend> {
  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  const sockets: UdpSocket[] = [];
  return {
    name: 'bare mediasoup',
    async addRoom(_index, sink) {
      return bareRoom(await worker.createRouter({ mediaCodecs: bareCodecs }), settings.members, sink, sender, sockets);
    },
    async workerCpuSeconds() {
      const u = await worker.getResourceUsage();
      return (u.ru_utime + u.ru_stime) / 1000;
    },
    async memory() {
      return { workerRssMb: ((await worker.getResourceUsage()).ru_maxrss * 1024) / 1e6 };
    },
    async stop() {
      for (const s of sockets) s.close();
      worker.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Janus VideoRoom: remote publishers in, RTP forwarders out, one core

/** Janus's remote publishers tell a publisher's streams apart by SSRC: 1000 + 10 × mindex. */
const JANUS_SSRCS = { audio: 1000, video: 1010 };

async function janusBackend(sender: Sender): Promise<Backend> {
  const janus = await startJanus({ cpus: '0' });
  const sockets: UdpSocket[] = [];
  let nextSsrc = 100_000;
  return {
    name: 'Janus VideoRoom',
    async addRoom(index, sink) {
      const room = index;
      await janus.api.videoroom({ request: 'create', room, publishers: settings.members + 1, audiocodec: 'opus', videocodec: 'vp8', bitrate: 0 });
      const ids: number[] = [];
      const sources: RtpSource[] = [];
      for (let i = 0; i < settings.members; i++) {
        const id = i + 1;
        const publisher = await janus.api.videoroom({
          request: 'add_remote_publisher',
          room,
          id,
          display: `M${i}`,
          iface: '127.0.0.1',
          streams: [
            { type: 'audio', mindex: 0, mid: '0', codec: 'opus' },
            { type: 'video', mindex: 1, mid: '1', codec: 'vp8' },
          ],
        });
        const source = new RtpSource(settings.videoKbps, { ssrcs: JANUS_SSRCS, seal: (await FrameKeys.local()).seal });
        const udp = createSocket('udp4');
        await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
        sockets.push(udp);
        const port = Number(publisher.port);
        sender.add(source, (packet) => udp.send(packet, port, '127.0.0.1'));
        ids.push(id);
        sources.push(source);
      }
      // Each member receives every other member's audio and video: one forwarder per stream, its own SSRC.
      for (const receiver of ids) {
        for (const publisher of ids) {
          if (publisher === receiver) continue;
          await janus.api.videoroom({
            request: 'rtp_forward',
            room,
            publisher_id: publisher,
            host: '127.0.0.1',
            streams: [
              { mid: '0', port: sink.port, ssrc: nextSsrc++ },
              { mid: '1', port: sink.port, ssrc: nextSsrc++ },
            ],
          });
        }
      }
      return sources;
    },
    workerCpuSeconds: () => janus.cpuSeconds(),
    async memory() {
      return { workerRssMb: await janus.rssMb() };
    },
    async stop() {
      for (const s of sockets) s.close();
      await janus.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------

/** Packets the kernel dropped so far at the UDP socket on this local port (last column of /proc/net/udp). */
async function socketDrops(port: number): Promise<number> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const table = await readFile('/proc/net/udp', 'utf8').catch(() => '');
  const row = table.split('\n').find((line) => line.trim().split(/\s+/)[1]?.endsWith(hex));
  return Number(row?.trim().split(/\s+/).at(-1) ?? 0);
}

export async function stepUp(make: (sender: Sender) => Promise<Backend>): Promise<{ name: string; steps: Step[]; stoppedBy: string }> {
  const sender = new Sender();
  const sink = await RtpSink.open();
  const backend = await make(sender);
  const steps: Step[] = [];
  let stoppedBy = `the maximum of ${settings.maxRooms} rooms`;
  try {
    for (let rooms = 1; rooms <= settings.maxRooms; rooms++) {
      await backend.addRoom(rooms, sink);
      await new Promise((resolve) => setTimeout(resolve, WARM_MS));
      sink.reset();
      const sentBefore = sender.sources.reduce((n, s) => n + s.sentPackets, 0);
      const cpuBefore = await backend.workerCpuSeconds();
      const dropsBefore = await socketDrops(sink.port);
      const generatorBefore = cpuUsage();
      const started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
      const seconds = (performance.now() - started) / 1000;
      const cpu = (await backend.workerCpuSeconds()) - cpuBefore;
      const generator = cpuUsage(generatorBefore);
      const totals = sink.totals();
      const dropped = (await socketDrops(sink.port)) - dropsBefore;
      const sent = sender.sources.reduce((n, s) => n + s.sentPackets, 0) - sentBefore;
      const streams = rooms * settings.members * (settings.members - 1) * 2;
      const step: Step = {
        rooms,
        streams,
        packetsInPerSec: sent / seconds,
        packetsOutPerSec: totals.packets / seconds,
        loss: totals.expected ? totals.lost / totals.expected : 0,
        lossAtGenerator: totals.lost ? Math.min(1, dropped / totals.lost) : 0,
        jitterMs: totals.jitterMs,
        workerCore: cpu / seconds,
        workerPerStream: cpu / seconds / streams,
        generatorCore: (generator.user + generator.system) / 1e6 / seconds,
        ...(await backend.memory()),
      };
      steps.push(step);
      process.stdout.write(
        `  ${backend.name}: ${rooms} rooms, ${streams} streams forwarded, in ${step.packetsInPerSec.toFixed(0)} pkt/s, out ${step.packetsOutPerSec.toFixed(0)} pkt/s, loss ${(step.loss * 100).toFixed(2)} %${step.loss > 0 ? ` (${(step.lossAtGenerator * 100).toFixed(0)} % of it dropped at the generator's socket)` : ''}, jitter ${step.jitterMs.toFixed(1)} ms, worker ${(step.workerCore * 100).toFixed(0)} % of a core (${(step.workerPerStream * 1e5).toFixed(1)} per 100k of a core per stream), generator ${(step.generatorCore * 100).toFixed(0)} %\n`,
      );
      if (step.loss > LOSS_LIMIT) {
        stoppedBy =
          step.lossAtGenerator > 0.5
            ? `loss above ${LOSS_LIMIT * 100} % at ${rooms} rooms, ${(step.lossAtGenerator * 100).toFixed(0)} % of it dropped at the load generator's own receiving socket (the generator's limit more than the SFU's)`
            : `loss above ${LOSS_LIMIT * 100} % at ${rooms} rooms`;
        break;
      }
      if (step.workerCore > CORE_LIMIT) {
        stoppedBy = `the worker's core saturated at ${rooms} rooms`;
        break;
      }
      if (step.generatorCore > CORE_LIMIT) {
        stoppedBy = `the load generator's own core saturated at ${rooms} rooms (the SFU was not the limit)`;
        break;
      }
    }
  } finally {
    sender.stop();
    await backend.stop();
    sink.close();
  }
  return { name: backend.name, steps, stoppedBy };
}

/** The last step within the limits. */
export const held = (steps: Step[]) => [...steps].reverse().find((s) => s.loss <= LOSS_LIMIT && s.workerCore <= CORE_LIMIT) ?? steps[0]!;

export interface CapacityReport {
  members: number;
  videoKbps: number;
  ours: { steps: Step[]; stoppedBy: string };
  bare: { steps: Step[]; stoppedBy: string };
  /** Absent where Debian's janus package is not installed. */
  janus?: { steps: Step[]; stoppedBy: string };
  /** What sealing every frame costs the load generator. */
  sealing: SealingCost;
  loopback: LoopbackLimit;
}

/** Each backend on its own, for working on one (`stepUp(backends.janus)`). */
export const backends = { ours: oursBackend, bare: bareBackend, janus: janusBackend };

export async function capacity(options: Partial<typeof settings> = {}): Promise<CapacityReport> {
  Object.assign(settings, options);
  process.stdout.write(`bench:capacity — rooms of ${settings.members} synthetic members (audio 50 pkt/s, video ${settings.videoKbps} kbit/s at 30 fps, every frame end-to-end encrypted), one mediasoup worker\n`);
  const sealing = await sealingCost();
  process.stdout.write(
    `  load generator, per member: sealing every frame ${(sealing.sealedCore * 100).toFixed(2)} % of a core, plain ${(sealing.plainCore * 100).toFixed(2)} % (${sealing.microsPerFrame.toFixed(0)} µs per frame sealed, ${sealing.bytesPerFrame.toFixed(1)} bytes added per frame, +${(sealing.wireShare * 100).toFixed(1)} % RTP bytes)\n`,
  );
  const ours = await stepUp(oursBackend);
  const bare = await stepUp(bareBackend);
  const janus = janusInstalled() ? await stepUp(janusBackend) : undefined;
  const loopback = await loopbackLimit();
  const o = held(ours.steps);
  const b = held(bare.steps);
  const j = janus ? held(janus.steps) : undefined;
  // Compared at the same number of rooms (the most both held): per-stream cost drifts with load.
  const compare = (other: Step[], otherHeld: Step) => {
    const common = Math.min(o.rooms, otherHeld.rooms);
    const at = (steps: Step[]) => steps.find((s) => s.rooms === common)!;
    return `${(at(ours.steps).workerPerStream / at(other).workerPerStream).toFixed(2)} (at ${common} rooms each)`;
  };
  process.stdout.write(
    [
      '',
      `  ours:            held ${o.rooms} rooms (${o.streams} streams, ${o.packetsOutPerSec.toFixed(0)} pkt/s out) — stopped by ${ours.stoppedBy}`,
      `  bare mediasoup:  held ${b.rooms} rooms (${b.streams} streams, ${b.packetsOutPerSec.toFixed(0)} pkt/s out) — stopped by ${bare.stoppedBy}`,
      j && janus ? `  Janus VideoRoom: held ${j.rooms} rooms (${j.streams} streams, ${j.packetsOutPerSec.toFixed(0)} pkt/s out) — stopped by ${janus.stoppedBy}` : '  Janus VideoRoom: not measured (apt-get install janus)',
      `  worker CPU per forwarded stream, ours ÷ bare mediasoup: ${compare(bare.steps, b)}`,
      ...(j && janus ? [`  worker CPU per forwarded stream, ours ÷ Janus (its whole process): ${compare(janus.steps, j)}`, `  rooms held, ours ÷ Janus: ${(o.rooms / j.rooms).toFixed(2)}`] : []),
      `  loopback UDP (${loopback.tool}), one core each side: ${loopback.sendPerSec.toFixed(0)} pkt/s sent, ${loopback.receivePerSec.toFixed(0)} pkt/s received (${loopback.packetBytes}-byte packets)`,
      `  our forwarding at ${o.rooms} rooms reaches ${((o.packetsOutPerSec / loopback.sendPerSec) * 100).toFixed(1)} % of what one core sends over loopback`,
      `  signalling process RSS ${o.signallingRssMb?.toFixed(0)} MB, worker peak RSS ${o.workerRssMb.toFixed(0)} MB at ${o.rooms} rooms`,
      `  sealing in the load generator: ${((sealing.sealedCore - sealing.plainCore) * 100).toFixed(2)} % of a core per member, ${((sealing.sealedCore - sealing.plainCore) * o.rooms * settings.members * 100).toFixed(0)} % for the ${o.rooms * settings.members} members of ${o.rooms} rooms`,
      '',
    ].join('\n'),
  );
  return { members: settings.members, videoKbps: settings.videoKbps, ours, bare, ...(janus ? { janus } : {}), sealing, loopback };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [members, maxRooms, videoKbps] = process.argv.slice(2).map(Number);
  capacity({ ...(members ? { members } : {}), ...(maxRooms ? { maxRooms } : {}), ...(videoKbps ? { videoKbps } : {}) }).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench:capacity failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
