import { execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';

/*
 * The machine's own limit below any SFU: how many video-sized packets per second one core
 * sends over loopback UDP and another receives. Measured with iperf3 (Debian's package, C)
 * when it is installed; otherwise with Node's dgram (slower than the machine: a lower bound).
 */

const run = promisify(execFile);

export interface LoopbackLimit {
  /** What measured it: iperf3 (C, one core each side) when installed, else Node's dgram. */
  tool: 'iperf3' | 'node';
  packetBytes: number;
  sendPerSec: number;
  receivePerSec: number;
}

/** iperf3 in UDP mode, unlimited rate, one sending and one receiving process on loopback. */
async function iperf3(packetBytes: number, seconds: number): Promise<LoopbackLimit | null> {
  const port = String(5201 + Math.floor(Math.random() * 500));
  const server = spawn('iperf3', ['-s', '-1', '-B', '127.0.0.1', '-p', port], { stdio: 'ignore' });
  const failed = new Promise<null>((resolve) => server.once('error', () => resolve(null)));
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const client = run('iperf3', ['-c', '127.0.0.1', '-p', port, '-u', '-b', '0', '-l', String(packetBytes), '-t', String(seconds), '-J']);
    const result = await Promise.race([client, failed]);
    if (!result) return null;
    const sum = (JSON.parse(result.stdout) as { end: { sum: { packets: number; lost_packets: number; seconds: number } } }).end.sum;
    return { tool: 'iperf3', packetBytes, sendPerSec: sum.packets / sum.seconds, receivePerSec: (sum.packets - sum.lost_packets) / sum.seconds };
  } catch {
    return null;
  } finally {
    server.kill();
  }
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
  return (await iperf3(packetBytes, seconds)) ?? nodeLoopback(packetBytes, seconds);
}

async function nodeLoopback(packetBytes: number, seconds: number): Promise<LoopbackLimit> {
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
  return { tool: 'node', packetBytes, sendPerSec: sent / elapsed, receivePerSec: received / elapsed };
}
