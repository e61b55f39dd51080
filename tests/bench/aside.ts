/*
 * bench:aside — how quickly taking a member aside stops the group receiving the two, and how
 * quickly their media reaches the group again on the return.
 *   npm run bench:aside -- [trials=10] [group=2]
 * The production server runs on loopback (one mediasoup worker, SYNTHETIC_MEDIA=true). Everyone
 * is a client in this process (plain-rtp.ts): a socket.io client on the real path and plain RTP
 * transports, each sending a microphone (a packet every 20 ms) and a camera (VP8-shaped, 30
 * frames/s, answering the server's key frame requests as a browser's encoder does). The
 * facilitator (Fay) takes a member (Mo) aside; `group` other members receive. No browser: what
 * is measured is the server's part and the network's (loopback), not a browser's decoding.
 * Each trial:
 *   1. from 100 ms before the command until 300 ms after its answer, the two (Fay and Mo) keep
 *      sending as they were (nothing in their clients reacts to the aside: only the server can
 *      stop the group receiving them), and each of their four streams (mic, camera) also carries
 *      a probe about every millisecond (a 1 ms timer): a small packet with its number (audio: an
 *      opus-shaped packet; video: a one-packet VP8 delta frame) whose send time this process
 *      keeps, which the server forwards as it forwards the stream;
 *   2. t0; Fay sends `aside.start` for Mo; take-aside → answered (the server answers once it
 *      has paused every consumer between the two and the group);
 *   3. at each group member, for each of the two and each source, 100 ms after the probes stop:
 *      take-aside → cut = the send time of the first probe after the last one that arrived
 *      (none after it arrived) − t0: the server forwarded what was sent up to that moment and
 *      nothing sent from it on (the send time of the last probe that arrived is printed too:
 *      the cut lies between the two); take-aside → last packet = the arrival of that consumer's
 *      last packet (probe or not) − t0; how many cuts came after the answer arrived;
 *   4. t1; Fay sends `aside.end`, the two probing again; at each group member, for each of the
 *      two and each source: return → the first packet = its arrival − t1 (audio at once, probes
 *      included; video at the next key frame, which the server asks the sender for as it
 *      resumes the consumer: probes are delta frames, so a frame of the camera's 30 frames/s).
 * Send times and arrivals are stamped (performance.now) in this process's event loop, so a
 * stamp is late by whatever the process was busy with at that moment (it runs every client).
 * Printed: median and p95 over all trials, receivers and streams (min, max). Asserts nothing.
 */
import os from 'node:os';
import type { MediaSource } from '@group-room/shared';
import { ask } from '../support/synthetic-keys.js';
import { figure, say } from './measure.js';
import { cutOf, pause, runPlainBench, until, type PlainClient, type Arrivals } from './plain-rtp.js';

const trials = Number(process.argv[2] ?? 10);
const groupSize = Number(process.argv[3] ?? 2);

runPlainBench('bench:aside', async ({ fay, people, admit }) => {
  const members: PlainClient[] = [];
  for (let i = 0; i <= groupSize; i++) members.push(await admit(i === 0 ? 'Mo' : `Member ${i}`));
  for (const person of people) {
    await person.startMedia();
    await person.produce('mic');
    await person.produce('camera');
  }
  const [mo, ...group] = members as [PlainClient, ...PlainClient[]];
  const two = [fay.id, mo.id];
  const sources: MediaSource[] = ['mic', 'camera'];
  const streamsOfTwo = (receiver: PlainClient) => receiver.streams((s) => two.includes(s.peerId) && sources.includes(s.source));
  // Everyone receives the two before the first trial.
  for (const receiver of group) await until(() => streamsOfTwo(receiver).filter((s) => s.first !== undefined).length === 4, 'the two at the group');
  const probing = (on: boolean) => {
    for (const sender of [fay, mo]) sender.probing(on ? sources : []);
  };
  const senderOf = (stream: Arrivals) => (stream.peerId === fay.id ? fay : mo).sent(stream.producerId).probesSent;
  const cuts: number[] = [];
  const afterProbe: number[] = [];
  const lasts: number[] = [];
  const acks: number[] = [];
  let late = 0;
  let lost = 0;
  const audioBack: number[] = [];
  const videoBack: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    await pause(500);
    // Each stream's probes of this trial start from here.
    const from = new Map(group.flatMap((receiver) => streamsOfTwo(receiver)).map((s) => [s.producerId, senderOf(s).length]));
    probing(true);
    await pause(100);
    const t0 = performance.now();
    await ask(fay.socket, 'room:command', { command: { type: 'aside.start', memberId: mo.id } });
    const answered = performance.now();
    acks.push(answered - t0);
    await pause(300);
    probing(false);
    await pause(100);
    for (const receiver of group) {
      for (const stream of streamsOfTwo(receiver)) {
        const cut = cutOf(senderOf(stream), stream, from.get(stream.producerId)!, t0);
        if (!cut) throw new Error('the group kept receiving one of the two');
        cuts.push(cut.cut);
        afterProbe.push(cut.after);
        lasts.push(cut.last);
        lost += cut.lost;
        if (t0 + cut.cut > answered) late++;
      }
    }
    for (const receiver of group) receiver.forgetFirsts();
    probing(true);
    await pause(100);
    const t1 = performance.now();
    await ask(fay.socket, 'room:command', { command: { type: 'aside.end' } });
    for (const receiver of group) {
      await until(() => streamsOfTwo(receiver).every((s) => s.first !== undefined), 'the two back at the group');
      for (const stream of streamsOfTwo(receiver)) (stream.source === 'mic' ? audioBack : videoBack).push(stream.first! - t1);
    }
    probing(false);
  }
  say('');
  say(`bench:aside — ${trials} take-asides of one member by the facilitator and returns, ${group.length} group receivers, mic + camera each (30 frames/s), plain RTP clients on loopback, production server, 1 mediasoup worker, ${os.cpus().length} cores`);
  say(`  take aside → cut at each group member (send time of the first probe of the two never forwarded; mic and camera; the two keep sending): ${figure(cuts)}; the last forwarded probe's send time: ${figure(afterProbe)}; cut after the answer arrived in ${late} of ${cuts.length}; probes lost before the cut: ${lost}`);
  say(`  take aside → last packet from the two at each group member (its arrival): ${figure(lasts)}`);
  say(`  take aside → answered (the server has paused every consumer between the two and the group): ${figure(acks)}`);
  say(`  return → first audio from the two at each group member: ${figure(audioBack)}`);
  say(`  return → first video from the two at each group member: ${figure(videoBack)}`);
  say('');
});
