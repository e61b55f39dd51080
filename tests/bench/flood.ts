/*
 * bench:flood — does a flood from one client slow a facilitator's mute for everyone else?
 *   npm run bench:flood -- [trials=20] [receivers=3]
 * The measurement of bench:mute (the room and the trials from measure.ts): the production server on loopback with one mediasoup worker, one headless Chromium
 * with a speaking member and receiving members (auto-admitted), the facilitator a socket.io
 * client in this process. Run twice: quiet, then while two more sockets send requests as fast
 * as their answers come back (32 in flight each, with the server's default request limit):
 * an admitted member of the same room (commands it may not give, hands, signals, media
 * requests) and an unauthenticated socket (enters with forged links, unknown events).
 * Printed side by side: mute → last audio packet at each receiver (median, p99) and mute →
 * acknowledged, and the flood's answers by code. Asserts nothing.
 */
import os from 'node:os';
import type { Socket } from 'socket.io-client';
import { launchChromium } from '../support/browser.js';
import { startProductionServer } from '../support/prod-server.js';
import { connectSocket, enterWith, measureMutes, openMuteRoom, quantile, say, sendCommand, type Client, type Measured } from './measure.js';

const trials = Number(process.argv[2] ?? 20);
const receivers = Number(process.argv[3] ?? 3);
const WATCHDOG_MS = 20 * 60_000;
const FLOOD_IN_FLIGHT = 32;

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
    const room = await openMuteRoom(browser, server.url, receivers);
    sockets.push(room.facilitator);
    const { roomId, target, inviteUrl } = room;

    // The flooders: an admitted member of the room (auto-admit after the agreement) and a stranger.
    const flooder = await enterWith(server.url, inviteUrl, 'Flooder');
    sockets.push(flooder.socket);
    await sendCommand(flooder.socket, { type: 'agreement.acknowledge', version: flooder.view.agreement.version, privateSpace: true });
    const stranger = await connectSocket(server.url);
    sockets.push(stranger);

    const quiet = await measureMutes(room, trials, 'quiet ');
    const list = floodRequests(roomId, target);
    const floods = [flood(flooder.socket, list), flood(stranger, list)];
    const floodStart = Date.now();
    const flooded = await measureMutes(room, trials, 'flood ');
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
