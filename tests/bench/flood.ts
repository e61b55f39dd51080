/*
 * bench:flood — does a flood from one client slow a facilitator's mute for everyone else?
 *   npm run bench:flood -- [trials=20] [receivers=3]
 * The measurement of bench:mute (tests/bench/mute.ts; its helpers are copied here, it exports
 * nothing): the production server on loopback with one mediasoup worker, one headless Chromium
 * with a speaking member and receiving members (auto-admitted), the facilitator a socket.io
 * client in this process. Run twice: quiet, then while two more sockets send requests as fast
 * as their answers come back (32 in flight each, with the server's default request limit):
 * an admitted member of the same room (commands it may not give, hands, signals, media
 * requests) and an unauthenticated socket (enters with forged links, unknown events).
 * Printed side by side: mute → last audio packet at each receiver (median, p99) and mute →
 * acknowledged, and the flood's answers by code. Asserts nothing.
 */
import os from 'node:os';
import type { Page } from 'playwright-core';
import { io, type Socket } from 'socket.io-client';
import { createRoom, enterAdmittedAutomatically, enterAsFacilitator, launchChromium, newMember, setAutoAdmit } from '../support/browser.js';
import { startProductionServer } from '../support/prod-server.js';
import { audioFlowing, audioFrom, quantile, say, sendCommand, type Client } from './measure.js';


const trials = Number(process.argv[2] ?? 20);
const receivers = Number(process.argv[3] ?? 3);
const SPEAKER = 'Speaker';
const SETTLE_MS = 1200;
const WATCHDOG_MS = 20 * 60_000;
const ACCEPT_UNMUTE = /^Turn my microphone on$/;
const FLOOD_IN_FLIGHT = 32;

function linkParts(link: string): { roomId: string; token: string } {
  const url = new URL(link);
  return { roomId: url.pathname.split('/').at(-1)!, token: new URLSearchParams(url.hash.slice(1)).get('k')! };
}

async function connectSocket(baseUrl: string): Promise<Client> {
  const socket: Client = io(baseUrl, { transports: ['websocket'], forceNew: true, reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

async function enterWith(baseUrl: string, link: string, displayName: string) {
  const { roomId, token } = linkParts(link);
  const socket = await connectSocket(baseUrl);
  const result = await socket.timeout(10_000).emitWithAck('room:enter', { roomId, token, displayName });
  if (!result.ok) throw new Error(`${displayName} could not enter: ${result.error.message}`);
  return { socket, roomId, view: result.data.view };
}

/** Requests a flooder cycles through: [name, payload]. */
function floodRequests(roomId: string, speakerId: string): [string, unknown][] {
  return [
    ['room:command', { command: { type: 'member.mute', memberId: speakerId, source: 'mic' } }],
    ['room:command', { command: { type: 'room.setLocked', locked: true } }],
    ['room:command', { command: { type: 'hand.raise' } }],
    ['room:command', { command: { type: 'hand.lower' } }],
    ['room:command', { command: { type: 'member.muteAll', except: null } }],
    ['signal:send', { signal: { type: 'break' } }],
    ['transport:create', { direction: 'send' }],
    ['media:resync', {}],
    ['invite:create', {}],
    ['room:enter', { roomId, token: 'x'.repeat(200), displayName: 'Flood' }],
    ['room:resume', { roomId, credential: 'y'.repeat(200) }],
    ['no:such:request', { a: 1 }],
    ['room:command', { command: { type: 'agreement.set', text: 'z'.repeat(5000) } }],
  ];
}

interface Flood {
  stop: () => Promise<Record<string, number>>;
}

function flood(socket: Client, list: [string, unknown][]): Flood {
  const counts: Record<string, number> = {};
  let running = true;
  let i = 0;
  const raw = socket as unknown as Socket;
  const worker = async () => {
    while (running && socket.connected) {
      const [name, payload] = list[i++ % list.length]!;
      const answer = (await raw
        .timeout(10_000)
        .emitWithAck(name, payload)
        .catch(() => ({ timeout: true }))) as { ok?: boolean; error?: { code?: string }; timeout?: boolean };
      const key = answer.timeout ? 'no answer' : answer.ok ? 'ok' : (answer.error?.code ?? 'untyped');
      counts[key] = (counts[key] ?? 0) + 1;
    }
  };
  const workers = Promise.all(Array.from({ length: FLOOD_IN_FLIGHT }, worker));
  return {
    stop: async () => {
      running = false;
      await workers;
      return counts;
    },
  };
}

interface Measured {
  latencies: number[];
  acks: number[];
}

async function measure(label: string, socket: Client, target: string, speakerPage: Page, listening: Page[]): Promise<Measured> {
  const latencies: number[] = [];
  const acks: number[] = [];
  for (let trial = 1; trial <= trials; trial++) {
    await audioFlowing(listening, SPEAKER);
    const t0 = Date.now();
    await sendCommand(socket, { type: 'member.mute', memberId: target, source: 'mic' });
    acks.push(Date.now() - t0);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const last = await Promise.all(listening.map((p) => audioFrom(p, SPEAKER)));
    const perReceiver = last.map((s) => (s ? s.lastPacketAt - t0 : NaN));
    latencies.push(...perReceiver.filter((v) => Number.isFinite(v)));
    say(`${label} trial ${trial}: mute → last audio packet ${perReceiver.map((v) => `${v.toFixed(0)} ms`).join(', ')} (ack ${acks.at(-1)} ms)`);
    await sendCommand(socket, { type: 'member.ask', memberId: target, source: 'mic' });
    await speakerPage.getByRole('button', { name: ACCEPT_UNMUTE }).click();
  }
  return { latencies: latencies.sort((a, b) => a - b), acks: acks.sort((a, b) => a - b) };
}

const summary = (m: Measured) =>
  `median ${quantile(m.latencies, 0.5).toFixed(0)} ms, p99 ${quantile(m.latencies, 0.99).toFixed(0)} ms (n=${m.latencies.length}); ack median ${quantile(m.acks, 0.5)} ms, p99 ${quantile(m.acks, 0.99)} ms`;

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write('bench:flood gave up (watchdog)\n');
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  // The browser first: a machine without one must not be left with a server running.
  const browser = await launchChromium();
  const server = await startProductionServer({ LOG_LEVEL: 'warn' });
  const sockets: Client[] = [];
  try {
    const host = await newMember(browser, server.url);
    const { facilitatorUrl, inviteUrl } = await createRoom(host, 'Bench group');
    await enterAsFacilitator(host, facilitatorUrl, 'Host');
    await setAutoAdmit(host.page, true);
    const { socket, roomId } = await enterWith(server.url, facilitatorUrl, 'Bench facilitator');
    sockets.push(socket);
    let speakerId: string | undefined;
    socket.on('room:view', ({ view }) => {
      speakerId = view.facilitation?.everyone.find((m) => m.displayName === SPEAKER)?.id ?? speakerId;
    });
    await host.context.close();

    const speaker = await newMember(browser, server.url);
    await enterAdmittedAutomatically(speaker, inviteUrl, SPEAKER);
    const listening: Page[] = [];
    for (let i = 1; i <= receivers; i++) {
      const member = await newMember(browser, server.url);
      await enterAdmittedAutomatically(member, inviteUrl, `Receiver ${i}`);
      listening.push(member.page);
    }
    if (!speakerId) throw new Error('the speaker never appeared in the facilitator view');
    const target = speakerId;

    // The flooders: an admitted member of the room (auto-admit after the agreement) and a stranger.
    const flooder = await enterWith(server.url, inviteUrl, 'Flooder');
    sockets.push(flooder.socket);
    await sendCommand(flooder.socket, { type: 'agreement.acknowledge', version: flooder.view.agreement.version, privateSpace: true });
    const stranger = await connectSocket(server.url);
    sockets.push(stranger);

    const quiet = await measure('quiet', socket, target, speaker.page, listening);
    const list = floodRequests(roomId, target);
    const floods = [flood(flooder.socket, list), flood(stranger, list)];
    const floodStart = Date.now();
    const flooded = await measure('flood', socket, target, speaker.page, listening);
    const [memberCounts = {}, strangerCounts = {}] = await Promise.all(floods.map((f) => f.stop()));
    const seconds = (Date.now() - floodStart) / 1000;
    const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

    say('');
    say(`bench:flood — ${trials} mutes of one member per run, ${receivers} receivers, headless Chromium on loopback, 1 mediasoup worker, ${os.cpus().length} cores`);
    say(`  facilitator mute → last audio packet at each receiver`);
    say(`    without a flood: ${summary(quiet)}`);
    say(`    with a flood:    ${summary(flooded)}`);
    say(`  flood (${FLOOD_IN_FLIGHT} in flight per socket, default SOCKET_REQUESTS_PER_SECOND, ${seconds.toFixed(0)} s):`);
    say(`    admitted member: ${total(memberCounts)} requests (${(total(memberCounts) / seconds).toFixed(0)}/s) ${JSON.stringify(memberCounts)}`);
    say(`    unauthenticated: ${total(strangerCounts)} requests (${(total(strangerCounts) / seconds).toFixed(0)}/s) ${JSON.stringify(strangerCounts)}`);
    say('');
  } finally {
    for (const s of sockets) s.disconnect();
    await browser.close();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:flood failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
