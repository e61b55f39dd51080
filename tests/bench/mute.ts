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
import { launchChromium } from '../support/browser.js';
import { startProductionServer } from '../support/prod-server.js';
import { measureMutes, openMuteRoom, quantile, say, type MuteRoom } from './measure.js';

const trials = Number(process.argv[2] ?? 20);
const receivers = Number(process.argv[3] ?? 3);
/** The whole run is bounded: past this it gives up and exits non-zero. */
const WATCHDOG_MS = 15 * 60_000;

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write('bench:mute gave up (watchdog)\n');
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  // The browser first: a machine without one must not be left with a server running.
  const browser = await launchChromium();
  const server = await startProductionServer({ LOG_LEVEL: 'warn' });
  let room: MuteRoom | undefined;
  try {
    room = await openMuteRoom(browser, server.url, receivers);
    const { latencies: sorted, acks } = await measureMutes(room, trials, '');
    say('');
    say(`bench:mute — ${trials} mutes of one member, ${receivers} receivers, headless Chromium on loopback, 1 mediasoup worker, ${os.cpus().length} cores`);
    say(
      `  facilitator mute → last audio packet at each receiver: median ${quantile(sorted, 0.5).toFixed(0)} ms, p99 ${quantile(sorted, 0.99).toFixed(0)} ms, min ${sorted[0]?.toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms (n=${sorted.length})`,
    );
    say(`  mute command sent → acknowledged (server paused the producer): median ${quantile(acks, 0.5)} ms, p99 ${quantile(acks, 0.99)} ms`);
    say('');
  } finally {
    room?.facilitator.disconnect();
    await browser.close();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:mute failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
