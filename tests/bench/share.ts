/*
 * bench:share — how quickly a facilitator's grant puts a member's shared screen in front of the
 * others, and how quickly a withdrawal takes it away.
 *   npm run bench:share -- [trials=10] [receivers=3]
 * The production server runs on loopback (one mediasoup worker, SYNTHETIC_MEDIA=true). Everyone
 * is a client in this process (plain-rtp.ts): a socket.io client on the real path and plain RTP
 * transports, each sending a microphone; the sharer's screen is VP8-shaped video at 15 frames/s
 * (one layer, as the web sends a share) that starts with a key frame and answers the server's
 * key frame requests as a browser's encoder does. Receivers are the facilitator and the other
 * members. No browser: what is measured is the server's part and the network's (loopback), not
 * a browser's capture, encryption or decoding. Each trial:
 *   1. t0; the facilitator sends `share.grant` for the member; the member's client, on the view
 *      that says it may share, asks for its screen producer at once (the person's click and the
 *      browser's capture start are not in the figure), sending the screen's RTP (a key frame
 *      first) once the server has answered, as a browser's send transport does;
 *   2. at each receiver: the screen's consumer arrives, is resumed, and its first packet lands;
 *      grant → first shared frame = that packet's arrival − t0 (forwarding starts at a key
 *      frame: the first one, or the next after the server's request, if the first came before
 *      the receiver's consumer was resumed);
 *   3. t1; the facilitator sends `share.revoke`; the server closes the producer in the same
 *      change and then answers (withdraw → answered); the member's client stops its capture
 *      when its view says so;
 *   4. at each receiver: the last packet of that consumer (read once it is closed and 300 ms
 *      have passed); withdraw → last shared frame = its arrival − t1, or 0 when it came before
 *      t1 (a frame every 67 ms: the last is often sent before the withdrawal), and withdraw →
 *      `consumer:closed` at the receiver.
 * Printed: median and p95 over all trials and receivers. Asserts nothing.
 */
import os from 'node:os';
import { startProductionServer } from '../support/prod-server.js';
import { ask } from '../support/synthetic-keys.js';
import { quantile } from './measure.js';
import { pause, PlainClient, until } from './plain-rtp.js';
import { io } from 'socket.io-client';
import type { Client } from '../support/synthetic-keys.js';

const trials = Number(process.argv[2] ?? 10);
const receivers = Number(process.argv[3] ?? 3);
const WATCHDOG_MS = 10 * 60_000;

const say = (line: string) => process.stdout.write(`${line}\n`);
const figure = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return `median ${quantile(sorted, 0.5).toFixed(0)} ms, p95 ${quantile(sorted, 0.95).toFixed(0)} ms, min ${sorted[0]?.toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms (n=${sorted.length})`;
};

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write('bench:share gave up (watchdog)\n');
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  const server = await startProductionServer({ LOG_LEVEL: 'warn', SYNTHETIC_MEDIA: 'true', MEDIASOUP_WORKERS: '1' });
  const people: PlainClient[] = [];
  try {
    const creator: Client = io(server.url, { transports: ['websocket'], forceNew: true, reconnection: false });
    const links = await ask(creator, 'room:create', {});
    creator.disconnect();
    const fay = await PlainClient.enter(server.url, links.roomId, links.facilitatorToken, 'Fay');
    people.push(fay);
    const command = (type: 'share.grant' | 'share.revoke', memberId: string) => ask(fay.socket, 'room:command', { command: { type, memberId } });
    const members: PlainClient[] = [];
    for (let i = 0; i < receivers; i++) {
      const member = await PlainClient.enter(server.url, links.roomId, links.inviteToken, i === 0 ? 'Mo' : `Member ${i}`);
      people.push(member);
      await ask(fay.socket, 'room:command', { command: { type: 'member.admit', memberId: member.id } });
      await member.until((v) => v.self.stage === 'admitted' && v.self.media);
      members.push(member);
    }
    for (const person of people) {
      await person.startMedia();
      await person.produce('mic');
    }
    const [sharer, ...rest] = members as [PlainClient, ...PlainClient[]];
    const watching = [fay, ...rest];
    const grantToFrame: number[] = [];
    const revokeToLast: number[] = [];
    const revokeToClosed: number[] = [];
    let afterRevoke = 0;
    let afterAnswer = 0;
    const revokeAcks: number[] = [];
    for (let trial = 0; trial < trials; trial++) {
      const t0 = performance.now();
      const granted = command('share.grant', sharer.id);
      await sharer.until((v) => v.self.share.may, 5000);
      const producerId = await sharer.produce('screen', 15);
      await granted;
      for (const receiver of watching) {
        await until(() => receiver.streams((s) => s.producerId === producerId && s.first !== undefined).length > 0, 'the first shared frame');
        grantToFrame.push(receiver.streams((s) => s.producerId === producerId)[0]!.first! - t0);
      }
      await pause(500);
      const t1 = performance.now();
      let answered = Infinity;
      const revoked = command('share.revoke', sharer.id).then(() => {
        answered = performance.now();
        revokeAcks.push(answered - t1);
      });
      await sharer.until((v) => !v.self.share.may, 5000);
      sharer.stopSending('screen');
      await revoked;
      for (const receiver of watching) await until(() => receiver.streams((s) => s.producerId === producerId && s.closedAt !== undefined).length > 0, 'consumer:closed');
      await pause(300);
      for (const receiver of watching) {
        const stream = receiver.streams((s) => s.producerId === producerId)[0]!;
        revokeToLast.push(Math.max(0, stream.last! - t1));
        if (stream.last! > t1) afterRevoke++;
        if (stream.last! > answered) afterAnswer++;
        revokeToClosed.push(stream.closedAt! - t1);
      }
      await pause(300);
    }
    say('');
    say(`bench:share — ${trials} grants and withdrawals of one member's screen (15 frames/s, one VP8 layer), ${watching.length} receivers, plain RTP clients on loopback, production server, 1 mediasoup worker, ${os.cpus().length} cores`);
    say(`  grant → first shared frame at each other member: ${figure(grantToFrame)}`);
    say(`  withdraw → answered (the server has closed the share): ${figure(revokeAcks)}`);
    say(`  withdraw → last shared frame at each other member: ${figure(revokeToLast)}; a frame arrived after the withdrawal was sent in ${afterRevoke} of ${revokeToLast.length}, after its answer in ${afterAnswer}`);
    say(`  withdraw → the receiver told its consumer closed: ${figure(revokeToClosed)}`);
    say('');
  } finally {
    for (const person of people) person.close();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:share failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
