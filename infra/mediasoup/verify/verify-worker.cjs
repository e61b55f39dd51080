// End-to-end check of a mediasoup-worker binary with real WebRTC (Chromium).
//
// Run from a scratch dir that has mediasoup@3.27.1, mediasoup-client,
// playwright-core and esbuild installed (modules resolve from the cwd):
//   MEDIASOUP_WORKER_BIN=/path/to/mediasoup-worker node /path/to/verify-worker.cjs [--no-browser]
// Env: CHROMIUM (default /usr/bin/chromium), VERIFY_SECONDS (default 6).
//
// 1. worker + router (opus, VP8) + WebRtcTransport on 127.0.0.1, prints
//    worker.getResourceUsage() (only this with --no-browser, then closes);
// 2. headless Chromium sends fake camera video via a mediasoup-client Producer;
//    checks DTLS connects, producer byteCount grows, the worker stays alive;
// 3. Chromium consumes it back over a second transport and decodes frames
//    (exercises SRTP protect as well as unprotect).
'use strict';

const http = require('node:http');
const path = require('node:path');
const { createRequire } = require('node:module');

const req = createRequire(path.join(process.cwd(), 'noop.js'));
const mediasoup = req('mediasoup');
const { chromium } = req('playwright-core');
const esbuild = req('esbuild');

const SECONDS = Number(process.env.VERIFY_SECONDS || 6);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fail = (msg) => {
	console.error(`FAIL: ${msg}`);
	process.exitCode = 1;
};

const PAGE_SRC = `
import { Device } from 'mediasoup-client';
window.runTest = async ({ routerRtpCapabilities, sendParams, recvParams }) => {
  const device = new Device();
  await device.load({ routerRtpCapabilities });
  const wire = (t, dir) => {
    t.on('connect', ({ dtlsParameters }, ok, ko) =>
      window.serverConnect(dir, dtlsParameters).then(ok, ko));
  };
  const send = device.createSendTransport(sendParams);
  wire(send, 'send');
  send.on('produce', ({ kind, rtpParameters }, ok, ko) =>
    window.serverProduce(kind, rtpParameters).then((id) => ok({ id }), ko));
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } });
  const producer = await send.produce({ track: stream.getVideoTracks()[0] });
  window.sendTransport = send;

  const recv = device.createRecvTransport(recvParams);
  wire(recv, 'recv');
  const c = await window.serverConsume(device.rtpCapabilities);
  const consumer = await recv.consume(c);
  window.serverResume();
  window.consumer = consumer;
  return { producerId: producer.id, consumerId: consumer.id };
};
window.collect = async () => {
  const out = {};
  for (const s of (await window.sendTransport.getStats()).values()) {
    if (s.type === 'transport') Object.assign(out, { dtlsState: s.dtlsState, tlsVersion: s.tlsVersion, dtlsCipher: s.dtlsCipher, srtpCipher: s.srtpCipher });
    if (s.type === 'outbound-rtp') Object.assign(out, { sentBytes: s.bytesSent, framesEncoded: s.framesEncoded });
  }
  for (const s of (await window.consumer.getStats()).values()) {
    if (s.type === 'inbound-rtp') Object.assign(out, { recvBytes: s.bytesReceived, framesDecoded: s.framesDecoded, frameWidth: s.frameWidth });
  }
  return out;
};
`;

async function main() {
	const t0 = Date.now();
	let died = null;
	const worker = await mediasoup.createWorker({ logLevel: 'warn' });
	worker.on('died', (e) => { died = e; console.error(`worker died: ${e.message}`); });
	console.log(`worker pid ${worker.pid} (bin ${process.env.MEDIASOUP_WORKER_BIN || 'default'})`);

	const router = await worker.createRouter({
		mediaCodecs: [
			{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
			{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
		],
	});
	const mkTransport = () => router.createWebRtcTransport({
		listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
	});
	const sendT = await mkTransport();
	const recvT = await mkTransport();
	console.log(`router ${router.id}, transport ${sendT.id} on udp ${sendT.iceCandidates[0].address}:${sendT.iceCandidates[0].port}`);
	console.log('resourceUsage', JSON.stringify(await worker.getResourceUsage()));
	if (process.argv.includes('--no-browser')) {
		worker.close();
		await sleep(200);
		console.log(`worker closed=${worker.closed}, died=${Boolean(died)}; total ${Date.now() - t0} ms`);
		if (died) fail(`worker died: ${died}`);
		return;
	}

	const dtls = { send: null, recv: null };
	for (const [dir, t] of [['send', sendT], ['recv', recvT]]) {
		t.on('dtlsstatechange', (s) => {
			if (s === 'connected') dtls[dir] = Date.now();
			if (s === 'failed') fail(`${dir} transport dtlsState failed`);
		});
	}

	const bundle = await esbuild.build({
		stdin: { contents: PAGE_SRC, resolveDir: process.cwd(), loader: 'js' },
		bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'error',
	});
	const js = bundle.outputFiles[0].text;
	const server = http.createServer((rq, rs) => {
		if (rq.url === '/bundle.js') { rs.setHeader('content-type', 'text/javascript'); rs.end(js); return; }
		rs.setHeader('content-type', 'text/html');
		rs.end('<!doctype html><script src="/bundle.js"></script>');
	});
	await new Promise((r) => server.listen(0, '127.0.0.1', r));

	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
			'--allow-loopback-in-peer-connection', '--disable-background-networking',
			'--disable-component-update', '--no-first-run'],
	});
	let producer; let consumer;
	try {
		const page = await browser.newPage();
		page.on('pageerror', (e) => fail(`page error: ${e.message}`));
		await page.exposeFunction('serverConnect', (dir, dtlsParameters) =>
			(dir === 'send' ? sendT : recvT).connect({ dtlsParameters }));
		await page.exposeFunction('serverProduce', async (kind, rtpParameters) => {
			producer = await sendT.produce({ kind, rtpParameters });
			return producer.id;
		});
		await page.exposeFunction('serverConsume', async (rtpCapabilities) => {
			consumer = await recvT.consume({ producerId: producer.id, rtpCapabilities, paused: true });
			return { id: consumer.id, producerId: producer.id, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
		});
		await page.exposeFunction('serverResume', () => consumer.resume());
		await page.goto(`http://127.0.0.1:${server.address().port}/`);
		const params = (t) => ({ id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters });
		const tStart = Date.now();
		await page.evaluate((a) => window.runTest(a), {
			routerRtpCapabilities: router.rtpCapabilities, sendParams: params(sendT), recvParams: params(recvT),
		});

		const samples = [];
		for (let i = 0; i <= SECONDS; i++) {
			const [st] = await producer.getStats();
			samples.push(st ? st.byteCount : 0);
			if (i < SECONDS) await sleep(1000);
		}
		const browserStats = await page.evaluate(() => window.collect());
		const [ts] = await sendT.getStats();
		const [cs] = (await consumer.getStats()).filter((s) => s.type === 'outbound-rtp');

		console.log(`send transport dtlsState=${sendT.dtlsState} iceState=${sendT.iceState} (DTLS connected ${dtls.send ? dtls.send - tStart : '-'} ms after page start)`);
		console.log(`recv transport dtlsState=${recvT.dtlsState} (DTLS connected ${dtls.recv ? dtls.recv - tStart : '-'} ms after page start)`);
		console.log(`producer byteCount per second: ${samples.join(', ')}`);
		console.log(`send transport recvBitrate=${ts.recvBitrate} bytesReceived=${ts.bytesReceived}; consumer sent byteCount=${cs && cs.byteCount}`);
		console.log('chromium', JSON.stringify(browserStats));

		if (sendT.dtlsState !== 'connected') fail(`send dtlsState is ${sendT.dtlsState}`);
		if (recvT.dtlsState !== 'connected') fail(`recv dtlsState is ${recvT.dtlsState}`);
		if (!(samples.at(-1) > samples[1] && samples[1] > 0)) fail('producer bytes did not increase');
		if (!(browserStats.framesDecoded > 0)) fail('Chromium decoded no frames from the consumer');
	} finally {
		await browser.close();
		server.close();
	}
	if (died || worker.died) fail(`worker died: ${died}`);
	console.log('resourceUsage', JSON.stringify(await worker.getResourceUsage()));
	worker.close();
	await sleep(200);
	console.log(`worker closed=${worker.closed}; total ${Date.now() - t0} ms`);
	if (!process.exitCode) console.log('OK');
}

main().catch((e) => { fail(e.stack || String(e)); process.exit(1); });
