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
 *   3. the member's client keeps sending its screen until the trial ends, as a modified client
 *      that ignores its view would: what stops the share at the others is the server alone. From
 *      100 ms before the withdrawal until 200 ms after every receiver was told its consumer
 *      closed, the screen stream also carries a probe: a one-packet VP8 delta frame about every
 *      millisecond (a 1 ms timer), each with its number, whose send time this process keeps;
 *      the server forwards them as it forwards the screen;
 *   4. t1; the facilitator sends `share.revoke`; the server closes the producer in the same
 *      change and then answers (withdraw → answered);
 *   5. at each receiver, 100 ms after the probes stop: withdraw → cut = the send time of the
 *      first probe after the last one that arrived (none after it arrived) − t1: the server
 *      forwarded what was sent up to that moment and nothing sent from it on (known to within
 *      the time between two probes: the send time of the last probe that arrived is printed too,
 *      the cut lies between the two; a probe timer late because this process was busy widens it); withdraw → last shared packet = the
 *      arrival of that consumer's last packet (probe or frame) − t1; and withdraw →
 *      `consumer:closed` at the receiver. Probes lost before the cut (loopback loss, not the
 *      cut) are counted and printed.
 * Send times and arrivals are stamped (performance.now) in this process's event loop, so a
 * stamp is late by whatever the process was busy with at that moment (it runs every client).
 * Printed: median and p95 over all trials and receivers (min, max). Asserts nothing.
 */
import os from 'node:os';
import { ask } from '../support/synthetic-keys.js';
import { figure, say } from './measure.js';
import { cutOf, pause, runPlainBench, until, type PlainClient } from './plain-rtp.js';

const trials = Number(process.argv[2] ?? 10);
const receivers = Number(process.argv[3] ?? 3);

runPlainBench('bench:share', async ({ fay, people, admit }) => {
  const command = (type: 'share.grant' | 'share.revoke', memberId: string) => ask(fay.socket, 'room:command', { command: { type, memberId } });
  const members: PlainClient[] = [];
  for (let i = 0; i < receivers; i++) members.push(await admit(i === 0 ? 'Mo' : `Member ${i}`));
  for (const person of people) {
    await person.startMedia();
    await person.produce('mic');
  }
  const [sharer, ...rest] = members as [PlainClient, ...PlainClient[]];
  const watching = [fay, ...rest];
  const grantToFrame: number[] = [];
  const revokeToCut: number[] = [];
  const revokeToLast: number[] = [];
  const revokeToClosed: number[] = [];
  const revokeAcks: number[] = [];
  const afterProbe: number[] = [];
  let lost = 0;
  let cutAfterAnswer = 0;
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
    const probes = sharer.sent(producerId).probesSent;
    const from = probes.length;
    sharer.probing(['screen']);
    await pause(100);
    const t1 = performance.now();
    await command('share.revoke', sharer.id);
    const answered = performance.now();
    revokeAcks.push(answered - t1);
    for (const receiver of watching) await until(() => receiver.streams((s) => s.producerId === producerId && s.closedAt !== undefined).length > 0, 'consumer:closed');
    await pause(200);
    sharer.probing([]);
    await pause(100);
    for (const receiver of watching) {
      const stream = receiver.streams((s) => s.producerId === producerId)[0]!;
      const cut = cutOf(probes, stream, from, t1);
      if (!cut) throw new Error('the share was not cut at a receiver');
      revokeToCut.push(cut.cut);
      revokeToLast.push(cut.last);
      afterProbe.push(cut.after);
      lost += cut.lost;
      if (t1 + cut.cut > answered) cutAfterAnswer++;
      revokeToClosed.push(stream.closedAt! - t1);
    }
    // The capture ends only now (the member's page would stop it on its view, but here only the server's cut is timed).
    sharer.stopSending('screen');
    await pause(300);
  }
  say('');
  say(`bench:share — ${trials} grants and withdrawals of one member's screen (15 frames/s, one VP8 layer), ${watching.length} receivers, plain RTP clients on loopback, production server, 1 mediasoup worker, ${os.cpus().length} cores`);
  say(`  grant → first shared frame at each other member: ${figure(grantToFrame)}`);
  say(`  withdraw → cut at each other member (send time of the first probe never forwarded; the sharer keeps sending): ${figure(revokeToCut)}; the last forwarded probe's send time: ${figure(afterProbe)}; cut after the answer arrived in ${cutAfterAnswer} of ${revokeToCut.length}; probes lost before the cut: ${lost}`);
  say(`  withdraw → last shared packet at each other member (its arrival): ${figure(revokeToLast)}`);
  say(`  withdraw → answered (the server has closed the share): ${figure(revokeAcks)}`);
  say(`  withdraw → the receiver told its consumer closed: ${figure(revokeToClosed)}`);
  say('');
});
