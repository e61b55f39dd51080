import { createSocket, type RemoteInfo } from 'node:dgram';
import * as mediasoup from 'mediasoup';
import { RtpSource } from '../support/synthetic-member.js';
import { janusInstalled, LOOPBACK_ICE_ADDRESS, loopbackNamespace, runInLoopbackNamespace, startJanus, udpAddresses } from './janus.js';
import { subscribeJanus, type JanusSubscriber, type JanusSubscriberStats } from './janus-subscriber.js';

/*
 * tsx tests/bench/janus-subscriber-check.ts   (as root: it makes a network namespace, janus.ts)
 *
 * Shows that janus-subscriber.ts receives Janus's WebRTC as a full receiver: two remote
 * publishers send audio and VP8-shaped video as plain RTP into a VideoRoom; two subscribers
 * (each one PeerConnection taking both feeds) receive them into mediasoup, one directly, one
 * through a UDP relay that can drop Janus's RTP on its way. Three phases, each printed (packets
 * sent, received, lost, NACKs):
 *   1. nothing dropped: everything arrives;
 *   2. one video packet in fifty dropped before Janus: a gap Janus cannot fill, so the receiver
 *      NACKs it and counts it lost;
 *   3. one video packet in fifty from Janus dropped by the relay: the receiver NACKs it (the
 *      relay sees the NACKs go to Janus) and the relay counts what Janus sends again.
 * Exits 1 when phases 1–3 do not show that (the check fails; it measures nothing).
 *
 * Seen on this machine (Janus 1.1.2): Janus resends some of what phase 3 drops, not all: it
 * keeps a retransmission buffer only for a stream whose round trip it has measured over 0 ms,
 * from the first block of a receiver report (see janus-subscriber.ts); the relay's own hop makes
 * that round trip about 1–3 ms at times. Printed, not asserted.
 */

const ROOM = 77;
const PUBLISHERS = [501, 502];
const SECONDS = 4;
const DROP_EVERY = 50;
/** Janus 1.1's VideoRoom offers VP8 as payload type 96 (the check fails plainly if it ever changes: nothing dropped). */
const VP8_PAYLOAD_TYPE = 96;

interface RelayCounts {
  /** Video packets from Janus dropped on their way to the receiver. */
  dropped: number;
  /** Of those, how many Janus sent again (the same SSRC and sequence number: a retransmission). */
  resent: number;
  /** Transport-layer feedback (RTCP 205: NACK) from the receiver to Janus (the header is not encrypted by SRTCP). */
  nacksToJanus: number;
}

/** A UDP relay between Janus and the receiver on `port`; drops video RTP from Janus while `dropping()` (every DROP_EVERY-th). */
async function lossyRelay(port: number, dropping: () => boolean): Promise<{ port: number; counts: RelayCounts; close(): void }> {
  const outer = createSocket('udp4');
  const inner = createSocket('udp4');
  await Promise.all([outer, inner].map((socket) => new Promise<void>((resolve) => socket.bind(0, LOOPBACK_ICE_ADDRESS, resolve))));
  let janus: RemoteInfo | undefined;
  const counts: RelayCounts = { dropped: 0, resent: 0, nacksToJanus: 0 };
  const droppedPackets = new Set<string>();
  let video = 0;
  // RTP and RTCP start with a byte in 128–191 (RFC 7983); STUN and DTLS do not.
  const isRtpOrRtcp = (message: Buffer) => message.length >= 12 && message[0]! >= 128 && message[0]! < 192;
  outer.on('message', (message, from) => {
    janus = from;
    // Video RTP: the offer's VP8 payload type (marker bit aside); STUN, DTLS, RTCP and audio pass.
    if (isRtpOrRtcp(message) && (message[1]! & 0x7f) === VP8_PAYLOAD_TYPE) {
      const id = `${message.readUInt32BE(8)}:${message.readUInt16BE(2)}`;
      if (droppedPackets.delete(id)) counts.resent++;
      else if (dropping() && ++video % DROP_EVERY === 0) {
        droppedPackets.add(id);
        counts.dropped++;
        return;
      }
    }
    inner.send(message, port, LOOPBACK_ICE_ADDRESS);
  });
  inner.on('message', (message) => {
    if (isRtpOrRtcp(message) && message[1] === 205) counts.nacksToJanus++;
    if (janus) outer.send(message, janus.port, janus.address);
  });
  return {
    port: outer.address().port,
    counts,
    close() {
      outer.close();
      inner.close();
    },
  };
}

async function check(): Promise<string[]> {
  const janus = await startJanus();
  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  const udp = createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const timers: NodeJS.Timeout[] = [];
  const relays: { close(): void }[] = [];
  const drop = { beforeJanus: false, afterJanus: false };
  let sent = 0;
  let videoSent = 0;
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
            if (drop.beforeJanus && ++videoSent % DROP_EVERY === 0) continue;
            send(packet);
          }
        }, 1000 / 30),
      );
    }
    const t0 = performance.now();
    const direct = await subscribeJanus({ janusUrl: janus.apiUrl, room: ROOM, feeds: PUBLISHERS, worker });
    const lines = [`  subscribed (join, offer, answer, ICE and DTLS up) in ${(performance.now() - t0).toFixed(0)} ms`];
    let relayCounts: RelayCounts = { dropped: 0, resent: 0, nacksToJanus: 0 };
    const relayed = await subscribeJanus({
      janusUrl: janus.apiUrl,
      room: ROOM,
      feeds: PUBLISHERS,
      worker,
      relay: async (port) => {
        const relay = await lossyRelay(port, () => drop.afterJanus);
        relays.push(relay);
        relayCounts = relay.counts;
        return relay.port;
      },
    });
    const phase = async (label: string, subscriber: JanusSubscriber) => {
      const before = await subscriber.stats();
      const [sentBefore, relayBefore] = [sent, { ...relayCounts }];
      await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
      const after = await subscriber.stats();
      const delta: JanusSubscriberStats & RelayCounts & { sent: number } = {
        sent: sent - sentBefore,
        dropped: relayCounts.dropped - relayBefore.dropped,
        resent: relayCounts.resent - relayBefore.resent,
        nacksToJanus: relayCounts.nacksToJanus - relayBefore.nacksToJanus,
        packets: after.packets - before.packets,
        lost: after.lost - before.lost,
        nacks: after.nacks - before.nacks,
      };
      lines.push(`  ${label}: sent ${delta.sent}, received ${delta.packets}, lost ${delta.lost}, NACKs sent ${delta.nacks}${delta.dropped ? `; the relay dropped ${delta.dropped}, passed ${delta.nacksToJanus} NACK packets to Janus, saw ${delta.resent} resent` : ''}`);
      return delta;
    };
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const clean = await phase(`${SECONDS} s, nothing dropped`, direct);
    drop.beforeJanus = true;
    const before = await phase(`${SECONDS} s, 1 video packet in ${DROP_EVERY} dropped before Janus`, direct);
    drop.beforeJanus = false;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    drop.afterJanus = true;
    const after = await phase(`${SECONDS} s, 1 video packet in ${DROP_EVERY} from Janus dropped on the way (relayed subscriber)`, relayed);
    drop.afterJanus = false;
    const addresses = await udpAddresses();
    lines.push(`  UDP addresses in use: ${addresses.join(', ')}`);
    await direct.close();
    await relayed.close();
    const problems = [
      ...(clean.packets === 0 ? ['nothing received'] : []),
      ...(clean.lost > clean.sent * 0.01 ? ['over 1 % lost with nothing dropped'] : []),
      ...(before.nacks === 0 || before.lost === 0 ? ['gaps before Janus drew no NACK or were not counted lost'] : []),
      ...(after.dropped === 0 || after.nacks === 0 || after.nacksToJanus === 0 ? ['drops after Janus drew no NACK to Janus'] : []),
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
    for (const relay of relays) relay.close();
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
      process.stdout.write(`Janus subscribers (WebRTC into mediasoup), two feeds on each PeerConnection:\n${lines.join('\n')}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`janus-subscriber-check failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
