import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';
import os from 'node:os';
import type { Page } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { RtpSource } from '../support/synthetic-member.js';
import { chromiumCpuSeconds, testPattern } from './big-room.js';
import { janusInstalled, loopbackNamespace, runInLoopbackNamespace, startJanus, udpAddresses } from './janus.js';
import { quantile } from './measure.js';

/*
 * npm run bench:janus-room [-- <joins>]
 *
 * bench:big-room's room of 12 on Janus VideoRoom (Debian's janus 1.1.2), for the same browser
 * join measurement beside a peer SFU: eleven remote publishers send the same real VP8 frames
 * (ffmpeg's test pattern) and opus-sized audio as plain RTP, and one headless Chromium page
 * joins with a minimal client of Janus's HTTP API (create a session, publish the fake camera
 * and microphone, subscribe to the eleven). Printed: the page's join started → first remote
 * video frame decoded (median, p95), and with the browser in the room its CPU and received
 * bitrate. There is no product around Janus here (no page load, no agreement, no admission),
 * so its join time is a floor for ours, not a like-for-like figure.
 *
 * Over loopback only, as every bench here: the script runs itself again inside a network
 * namespace of its own (janus.ts: `lo`, IPv6 off, and 127.0.0.2 on a veth pair that
 * stays inside, since Janus gathers no candidate on an interface flagged loopback), where Janus,
 * Chromium and the synthetic publishers all run and every address is in 127.0.0.0/8. Needs root
 * (to make the namespace). Printed too: every UDP address in use during the measurement
 * (`ss -uan`) and the page's ICE pairs; a run that saw any other address fails.
 */

const SYNTHETIC = 11;
const ROOM = 1234;

/**
 * Runs in the page: joins the Janus room as a publisher, subscribes to every other publisher,
 * resolves with ms from the start to the first remote video frame decoded.
 */
async function joinInPage(args: { api: string; room: number }): Promise<number> {
  type J = Record<string, unknown>;
  const started = performance.now();
  let tx = 0;
  const post = async (url: string, body: J): Promise<J> => (await (await fetch(url, { method: 'POST', body: JSON.stringify({ ...body, transaction: `t${++tx}` }) })).json()) as J;
  const session = `${args.api}/${String(((await post(args.api, { janus: 'create' })).data as J).id)}`;
  const attach = async () => `${session}/${String(((await post(session, { janus: 'attach', plugin: 'janus.plugin.videoroom' })).data as J).id)}`;
  // Events arrive on one long poll per session; each waiter takes the first matching event.
  const waiters: { match: (e: J) => boolean; resolve: (e: J) => void }[] = [];
  let polling = true;
  void (async () => {
    while (polling) {
      const events = (await (await fetch(`${session}?maxev=10&rid=${Date.now()}`)).json()) as J | J[];
      for (const event of Array.isArray(events) ? events : [events]) {
        const i = waiters.findIndex((w) => w.match(event));
        if (i >= 0) waiters.splice(i, 1)[0]!.resolve(event);
      }
    }
  })();
  const next = (match: (e: J) => boolean) => new Promise<J>((resolve) => waiters.push({ match, resolve }));
  const dataOf = (e: J) => ((e.plugindata as J | undefined)?.data ?? {}) as J;
  const gathered = (pc: RTCPeerConnection) =>
    new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    });

  // Publish.
  const pubHandle = await attach();
  const joined = next((e) => dataOf(e).videoroom === 'joined');
  await post(pubHandle, { janus: 'message', body: { request: 'join', ptype: 'publisher', room: args.room, display: 'Browser' } });
  const publishers = (dataOf(await joined).publishers ?? []) as { id: number }[];
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360, frameRate: 24 } });
  const pub = new RTCPeerConnection();
  for (const track of stream.getTracks()) pub.addTransceiver(track, { direction: 'sendonly' });
  await pub.setLocalDescription(await pub.createOffer());
  await gathered(pub);
  const published = next((e) => Boolean(e.jsep) && dataOf(e).configured === 'ok');
  await post(pubHandle, { janus: 'message', body: { request: 'configure', audio: true, video: true }, jsep: { type: 'offer', sdp: pub.localDescription!.sdp } });
  void published.then((e) => pub.setRemoteDescription(e.jsep as RTCSessionDescriptionInit));

  // Subscribe to everyone already publishing, on one PeerConnection.
  const subHandle = await attach();
  const attached = next((e) => dataOf(e).videoroom === 'attached');
  await post(subHandle, { janus: 'message', body: { request: 'join', ptype: 'subscriber', room: args.room, streams: publishers.map((p) => ({ feed: p.id })) } });
  const offer = await attached;
  const sub = new RTCPeerConnection();
  (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = [pub, sub];
  const firstFrame = new Promise<number>((resolve) => {
    sub.addEventListener('track', ({ track }) => {
      if (track.kind !== 'video') return;
      const video = document.createElement('video');
      video.muted = true;
      video.autoplay = true;
      video.srcObject = new MediaStream([track]);
      document.body.append(video);
      video.requestVideoFrameCallback(() => resolve(performance.now() - started));
    });
  });
  await sub.setRemoteDescription(offer.jsep as RTCSessionDescriptionInit);
  await sub.setLocalDescription(await sub.createAnswer());
  await gathered(sub);
  await post(subHandle, { janus: 'message', body: { request: 'start', room: args.room }, jsep: { type: 'answer', sdp: sub.localDescription!.sdp } });
  const ms = await firstFrame;
  polling = false;
  return ms;
}

/** The addresses of the page's ICE pairs in use (local and remote candidates, both connections). */
async function icePairAddresses(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    const addresses = new Set<string>();
    for (const pc of pcs) {
      const stats = new Map<string, { type: string; address?: string; selectedCandidatePairId?: string; localCandidateId?: string; remoteCandidateId?: string }>();
      (await pc.getStats()).forEach((s: { id: string; type: string }) => stats.set(s.id, s));
      for (const transport of stats.values()) {
        if (transport.type !== 'transport' || !transport.selectedCandidatePairId) continue;
        const pair = stats.get(transport.selectedCandidatePairId);
        for (const id of [pair?.localCandidateId, pair?.remoteCandidateId]) addresses.add(stats.get(id ?? '')?.address ?? '(none)');
      }
    }
    return [...addresses].sort();
  });
}

/** Bytes of video and audio received so far by the page's subscriber connection. */
async function receivedBytes(page: Page): Promise<{ bytes: number; decoding: number }> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    let bytes = 0;
    let decoding = 0;
    (await pcs[1]!.getStats()).forEach((s: { type: string; kind?: string; bytesReceived?: number; framesDecoded?: number }) => {
      if (s.type !== 'inbound-rtp') return;
      bytes += s.bytesReceived ?? 0;
      if (s.kind === 'video' && (s.framesDecoded ?? 0) > 0) decoding++;
    });
    return { bytes, decoding };
  });
}

export async function janusRoom(joins: number): Promise<string> {
  if (!janusInstalled()) return 'Janus is not installed (apt-get install janus): not measured';
  const frames = await testPattern();
  if (!loopbackNamespace()) throw new Error('runs only inside its own network namespace (run this file, which makes one)');
  const janus = await startJanus();
  const page = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>janus</title><body></body>'));
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  const pageUrl = `http://127.0.0.1:${(page.address() as { port: number }).port}/`;
  // No mDNS responder (it listens on 224.0.0.251): the page's candidates are plain loopback addresses.
  const browser = await launchChromium(['--disable-features=WebRtcHideLocalIpsWithMdns']);
  const udp = createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const senders: NodeJS.Timeout[] = [];
  try {
    await janus.api.videoroom({ request: 'create', room: ROOM, publishers: SYNTHETIC + 2, audiocodec: 'opus', videocodec: 'vp8', bitrate: 0 });
    for (let i = 0; i < SYNTHETIC; i++) {
      const publisher = await janus.api.videoroom({
        request: 'add_remote_publisher',
        room: ROOM,
        id: 1000 + i,
        display: `Synthetic ${i}`,
        iface: '127.0.0.1',
        streams: [
          { type: 'audio', mindex: 0, mid: '0', codec: 'opus' },
          { type: 'video', mindex: 1, mid: '1', codec: 'vp8' },
        ],
      });
      const source = new RtpSource(300, { frames, ssrcs: { audio: 1000, video: 1010 } });
      const port = Number(publisher.port);
      senders.push(setInterval(() => udp.send(source.audio(), port, '127.0.0.1'), 20));
      senders.push(setInterval(() => source.videoFrame().forEach((packet) => udp.send(packet, port, '127.0.0.1')), 1000 / 30));
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const times: number[] = [];
    let kbps = 0;
    let cpuShare = 0;
    let decoding = 0;
    const seen = new Set<string>();
    let iceAddresses: string[] = [];
    for (let i = 1; i <= joins; i++) {
      const context = await browser.newContext();
      // tsx names nested functions with a helper the page does not have.
      await context.addInitScript('window.__name = (f) => f');
      const member = await context.newPage();
      await member.goto(pageUrl);
      const ms = await member.evaluate(joinInPage, { api: janus.apiUrl, room: ROOM });
      times.push(ms);
      process.stdout.write(`join ${i}: join started → first remote video frame ${ms.toFixed(0)} ms\n`);
      if (i === joins) {
        await new Promise((resolve) => setTimeout(resolve, 3000));
        const cpuBefore = await chromiumCpuSeconds();
        const before = await receivedBytes(member);
        const t0 = performance.now();
        for (let sample = 0; sample < 5; sample++) {
          await new Promise((resolve) => setTimeout(resolve, 2000));
          for (const address of await udpAddresses()) seen.add(address);
        }
        const seconds = (performance.now() - t0) / 1000;
        iceAddresses = await icePairAddresses(member);
        cpuShare = ((await chromiumCpuSeconds()) - cpuBefore) / seconds;
        const after = await receivedBytes(member);
        kbps = ((after.bytes - before.bytes) * 8) / 1000 / seconds;
        decoding = after.decoding;
      }
      await context.close();
    }
    const sorted = [...times].sort((a, b) => a - b);
    const outside = [...seen, ...iceAddresses].filter((address) => !address.startsWith('127.'));
    if (outside.length > 0) throw new Error(`addresses outside 127.0.0.0/8 were used: ${outside.join(', ')}`);
    return [
      `bench:janus-room — the same room of 12 on Janus VideoRoom ${'1.1.2'}: ${SYNTHETIC} remote publishers (audio, real VP8 640×360 at 300 kbit/s) and one headless Chromium page joining through Janus's HTTP API, ${os.cpus().length} cores`,
      `  join started → first remote video frame decoded (no page load, agreement or admission): median ${quantile(sorted, 0.5).toFixed(0)} ms, p95 ${quantile(sorted, 0.95).toFixed(0)} ms (n=${times.length})`,
      `  in the room: decoding ${decoding} remote videos, receiving ${kbps.toFixed(0)} kbit/s, Chromium using ${(cpuShare * 100).toFixed(0)} % of a core (all its processes)`,
      `  over loopback only: UDP addresses in use (ss -uan, sampled) ${[...seen].sort().join(', ')}; the page's ICE pairs ${iceAddresses.join(', ')}`,
    ].join('\n');
  } finally {
    for (const timer of senders) clearInterval(timer);
    udp.close();
    await browser.close();
    page.close();
    await janus.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}` && !loopbackNamespace()) {
  // First run: make the namespace and run this script again inside it.
  runInLoopbackNamespace().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`bench:janus-room failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
} else if (import.meta.url === `file://${process.argv[1]}`) {
  janusRoom(Number(process.argv[2] ?? 5)).then(
    (summary) => {
      process.stdout.write(`\n${summary}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`bench:janus-room failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
