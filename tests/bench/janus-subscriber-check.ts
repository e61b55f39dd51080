import { createSocket } from 'node:dgram';
import * as mediasoup from 'mediasoup';
import { RtpSource } from '../support/synthetic-member.js';
import { janusInstalled, loopbackNamespace, runInLoopbackNamespace, startJanus, udpAddresses } from './janus.js';
import { subscribeJanus } from './janus-subscriber.js';

/*
 * tsx tests/bench/janus-subscriber-check.ts   (as root: it makes a network namespace, janus.ts)
 *
 * Shows that janus-subscriber.ts receives Janus's WebRTC: two remote publishers send audio and
 * VP8-shaped video as plain RTP into a VideoRoom; one subscriber (one PeerConnection, both
 * feeds) receives them into mediasoup. Printed: packets sent and received, lost, NACKs, over a
 * few seconds with nothing dropped, then with one video packet in fifty dropped before Janus
 * (a gap Janus cannot fill: the receiver must NACK it, and count it lost). Exits 1 when nothing
 * was received, when loss with nothing dropped is over 1 %, or when the gaps drew no NACK.
 */

const ROOM = 77;
const PUBLISHERS = [501, 502];
const SECONDS = 4;

async function check(): Promise<string[]> {
  const janus = await startJanus();
  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  const udp = createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const timers: NodeJS.Timeout[] = [];
  let dropEvery = 0;
  let sent = 0;
  let videoSeen = 0;
  try {
    await janus.api.videoroom({ request: 'create', room: ROOM, publishers: PUBLISHERS.length + 1, audiocodec: 'opus', videocodec: 'vp8', bitrate: 0 });
    for (const id of PUBLISHERS) {
      const publisher = await janus.api.videoroom({
        request: 'add_remote_publisher',
        room: ROOM,
        id,
        display: `P${id}`,
        iface: '127.0.0.1',
        streams: [
          { type: 'audio', mindex: 0, mid: '0', codec: 'opus' },
          { type: 'video', mindex: 1, mid: '1', codec: 'vp8' },
        ],
      });
      const port = Number(publisher.port);
      const source = new RtpSource(300, { ssrcs: { audio: 1000, video: 1010 } });
      const send = (packet: Buffer) => {
        sent++;
        udp.send(packet, port, '127.0.0.1');
      };
      timers.push(setInterval(() => send(source.audio()), 20));
      timers.push(
        setInterval(() => {
          for (const packet of source.videoFrame()) {
            // Never the first packets: the receiver's stream starts on a packet that got through.
            if (dropEvery > 0 && ++videoSeen % dropEvery === 0) continue;
            send(packet);
          }
        }, 1000 / 30),
      );
    }
    const t0 = performance.now();
    const subscriber = await subscribeJanus({ janusUrl: janus.apiUrl, room: ROOM, feeds: PUBLISHERS, worker });
    const lines = [`  subscribed (join, offer, answer, ICE and DTLS up) in ${(performance.now() - t0).toFixed(0)} ms`];
    const phase = async (label: string) => {
      const before = await subscriber.stats();
      const sentBefore = sent;
      await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
      const after = await subscriber.stats();
      const delta = { sent: sent - sentBefore, packets: after.packets - before.packets, lost: after.lost - before.lost, nacks: after.nacks - before.nacks };
      lines.push(`  ${label}: sent ${delta.sent}, received ${delta.packets}, lost ${delta.lost}, NACKs sent ${delta.nacks}`);
      return delta;
    };
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const clean = await phase(`${SECONDS} s, nothing dropped`);
    dropEvery = 50;
    const lossy = await phase(`${SECONDS} s, 1 video packet in 50 dropped before Janus`);
    const addresses = await udpAddresses();
    lines.push(`  UDP addresses in use: ${addresses.join(', ')}`);
    await subscriber.close();
    const problems = [
      ...(clean.packets === 0 ? ['nothing received'] : []),
      ...(clean.lost > clean.sent * 0.01 ? ['over 1 % lost with nothing dropped'] : []),
      ...(lossy.nacks === 0 ? ['gaps drew no NACK'] : []),
      ...addresses.filter((a) => !a.startsWith('127.')).map((a) => `address outside loopback: ${a}`),
    ];
    if (problems.length > 0) throw new Error(`${lines.join('\n')}\n${problems.join('; ')}`);
    return lines;
  } catch (error) {
    // Janus's own log says why ICE or DTLS failed, if they did.
    process.stderr.write(`Janus's log (end):\n${janus.child.output().slice(-3000)}\n`);
    throw error;
  } finally {
    for (const timer of timers) clearInterval(timer);
    udp.close();
    worker.close();
    await janus.stop();
  }
}

if (!janusInstalled()) {
  process.stdout.write('Janus is not installed (apt-get install janus): nothing checked\n');
} else if (!loopbackNamespace()) {
  runInLoopbackNamespace().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`janus-subscriber-check failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
} else {
  check().then(
    (lines) => {
      process.stdout.write(`Janus subscriber (WebRTC into mediasoup), two feeds on one PeerConnection:\n${lines.join('\n')}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`janus-subscriber-check failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
