/*
 * bench:mute — how quickly a facilitator's mute silences a member for everyone.
 *   npm run bench:mute -- [trials=20] [receivers=3]
 * The production server runs on loopback with one mediasoup worker. One headless Chromium
 * holds the speaking member and the receiving members (fake microphone and camera); they come
 * in through the invite link and are let in by auto-admit. The facilitator is a socket.io
 * client in this process (entered with the facilitator link), so the moment a mute is sent is
 * known exactly. Each trial:
 *   1. checks that every receiver is getting the speaker's audio,
 *   2. notes t0 and sends `member.mute` (mic) for the speaker,
 *   3. waits, then reads at each receiver (getStats) the inbound audio from the speaker:
 *      `lastPacketReceivedTimestamp` (epoch ms, same clock as t0 on this one machine),
 *   4. asks the speaker to unmute; the speaker accepts in the UI, and audio flows again.
 * Printed: mute → last audio packet at each receiver, median and p99 over all trials and
 * receivers, and mute → command acknowledged. Asserts nothing.
 */
import os from 'node:os';
import type { Page } from 'playwright-core';
import { io } from 'socket.io-client';
import { createRoom, enterAdmittedAutomatically, enterAsFacilitator, launchChromium, newMember, setAutoAdmit } from '../support/browser.js';
import { startProductionServer } from '../support/prod-server.js';
import { audioFlowing, audioFrom, quantile, say, sendCommand, type Client } from './measure.js';


const trials = Number(process.argv[2] ?? 20);
const receivers = Number(process.argv[3] ?? 3);
const SPEAKER = 'Speaker';
/** After a mute, how long to wait before reading the receivers' last packet time. */
const SETTLE_MS = 1200;
/** The whole run is bounded: past this it gives up and exits non-zero. */
const WATCHDOG_MS = 15 * 60_000;
/** The member's answer to "the facilitator asks you to unmute", as the UI labels it. */
const ACCEPT_UNMUTE = /^Turn my microphone on$/;

async function connectFacilitator(baseUrl: string, facilitatorUrl: string): Promise<{ socket: Client; roomId: string }> {
  const url = new URL(facilitatorUrl);
  const roomId = url.pathname.split('/').at(-1)!;
  const token = new URLSearchParams(url.hash.slice(1)).get('k')!;
  const socket: Client = io(baseUrl, { transports: ['websocket'], forceNew: true, reconnection: false });
  const result = await socket.timeout(10_000).emitWithAck('room:enter', { roomId, token, displayName: 'Bench facilitator' });
  if (!result.ok) throw new Error(`facilitator could not enter: ${result.error.message}`);
  return { socket, roomId };
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write('bench:mute gave up (watchdog)\n');
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  // The browser first: a machine without one must not be left with a server running.
  const browser = await launchChromium();
  const server = await startProductionServer({ LOG_LEVEL: 'warn' });
  let facilitatorSocket: Client | undefined;
  try {
    const host = await newMember(browser, server.url);
    const { facilitatorUrl, inviteUrl } = await createRoom(host, 'Bench group');
    // The host page only makes the room; the facilitator in the room is this process's socket.
    await enterAsFacilitator(host, facilitatorUrl, 'Host');
    await setAutoAdmit(host.page, true);
    const { socket } = await connectFacilitator(server.url, facilitatorUrl);
    facilitatorSocket = socket;
    let speakerId: string | undefined;
    socket.on('room:view', ({ view }) => {
      speakerId = view.facilitation?.everyone.find((m) => m.displayName === SPEAKER)?.id ?? speakerId;
    });
    await host.context.close(); // fewer pages, less CPU: the socket facilitator stays

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

    const latencies: number[] = [];
    const ackTimes: number[] = [];
    for (let trial = 1; trial <= trials; trial++) {
      await audioFlowing(listening, SPEAKER);
      const t0 = Date.now();
      await sendCommand(socket, { type: 'member.mute', memberId: target, source: 'mic' });
      ackTimes.push(Date.now() - t0);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const last = await Promise.all(listening.map((p) => audioFrom(p, SPEAKER)));
      const perReceiver = last.map((s) => (s ? s.lastPacketAt - t0 : NaN));
      latencies.push(...perReceiver.filter((v) => Number.isFinite(v)));
      say(`trial ${trial}: mute → last audio packet ${perReceiver.map((v) => `${v.toFixed(0)} ms`).join(', ')} (ack ${ackTimes.at(-1)} ms)`);

      await sendCommand(socket, { type: 'member.ask', memberId: target, source: 'mic' });
      await speaker.page.getByRole('button', { name: ACCEPT_UNMUTE }).click();
    }

    const sorted = [...latencies].sort((a, b) => a - b);
    const acks = [...ackTimes].sort((a, b) => a - b);
    say('');
    say(`bench:mute — ${trials} mutes of one member, ${receivers} receivers, headless Chromium on loopback, 1 mediasoup worker, ${os.cpus().length} cores`);
    say(
      `  facilitator mute → last audio packet at each receiver: median ${quantile(sorted, 0.5).toFixed(0)} ms, p99 ${quantile(sorted, 0.99).toFixed(0)} ms, min ${sorted[0]?.toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms (n=${sorted.length})`,
    );
    say(`  mute command sent → acknowledged (server paused the producer): median ${quantile(acks, 0.5)} ms, p99 ${quantile(acks, 0.99)} ms`);
    say('');
  } finally {
    facilitatorSocket?.disconnect();
    await browser.close();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:mute failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
