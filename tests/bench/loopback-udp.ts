import { createSocket } from 'node:dgram';
import { Worker } from 'node:worker_threads';

/*
 * The machine's own limit below any SFU: how many packets per second one core sends over
 * loopback UDP (this thread, in batches) and how many another thread receives, with video-sized
 * packets. Node's dgram, like the load generator's; a C sender would do more, and mediasoup's
 * worker (C++, libuv) sits between the two.
 */

export interface LoopbackLimit {
  packetBytes: number;
  sendPerSec: number;
  receivePerSec: number;
}

const RECEIVER = `
const { parentPort } = require('node:worker_threads');
const { createSocket } = require('node:dgram');
const socket = createSocket('udp4');
let count = 0;
socket.on('message', () => { count++; });
socket.bind(0, '127.0.0.1', () => {
  socket.setRecvBufferSize(8 * 1024 * 1024);
  parentPort.postMessage({ port: socket.address().port });
});
parentPort.on('message', (m) => {
  if (m === 'count') parentPort.postMessage({ count });
  if (m === 'close') socket.close(() => process.exit(0));
});
`;

export async function loopbackLimit(packetBytes = 1113, seconds = 3): Promise<LoopbackLimit> {
  const receiver = new Worker(RECEIVER, { eval: true });
  const port = await new Promise<number>((resolve) => receiver.once('message', (m: { port: number }) => resolve(m.port)));
  const count = () =>
    new Promise<number>((resolve) => {
      receiver.once('message', (m: { count: number }) => resolve(m.count));
      receiver.postMessage('count');
    });
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const packet = Buffer.alloc(packetBytes, 0x55);
  let sent = 0;
  const before = await count();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    // A batch, then wait for the last send: the socket's queue never grows without bound.
    await new Promise<void>((resolve) => {
      for (let i = 0; i < 255; i++) socket.send(packet, port, '127.0.0.1');
      socket.send(packet, port, '127.0.0.1', () => resolve());
    });
    sent += 256;
  }
  const elapsed = (performance.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 200));
  const received = (await count()) - before;
  socket.close();
  receiver.postMessage('close');
  return { packetBytes, sendPerSec: sent / elapsed, receivePerSec: received / elapsed };
}
