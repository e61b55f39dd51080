import { writeFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';

/*
 * Playing a tampered client, without any hook in the product's code: an init script wraps the
 * page's WebSocket so a test can send a raw Socket.IO request of its own on the page's
 * connection and read the answer. (To read what a page receives, use `recordReceivedFrames`.)
 */

const recordSockets = () => {
  const Native = window.WebSocket;
  const w = window as unknown as { __sockets: WebSocket[]; __framesIn: string[] };
  w.__sockets = [];
  w.__framesIn = [];
  window.WebSocket = class extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      w.__sockets.push(this);
      this.addEventListener('message', (event: MessageEvent) => {
        if (typeof event.data === 'string') w.__framesIn.push(event.data);
      });
    }
  } as typeof WebSocket;
};

/** Call before the page navigates: every later connection can then carry raw requests. */
export async function recordPageSockets(context: BrowserContext): Promise<void> {
  await context.addInitScript(recordSockets);
}

/** Socket.IO event frames, decoded: [event name, payload] (frames as `recordReceivedFrames` keeps them). */
export function decodeEvents(frames: readonly string[]): [string, unknown][] {
  const decoded: [string, unknown][] = [];
  for (const frame of frames) {
    // `42` = engine.io message + Socket.IO EVENT on the main namespace; acks are `43<id>`.
    if (!frame.startsWith('42[')) continue;
    const [name, payload] = JSON.parse(frame.slice(2)) as [string, unknown];
    decoded.push([name, payload]);
  }
  return decoded;
}

/** A consumer offered to a page: the fields of ConsumerOffer a test looks at, and how it came. */
export interface OfferSeen {
  consumerId: string;
  peerId: string;
  kind: string;
  source: string;
  /** Announced on its own, or listed in media:ready's answer (issue 20). */
  via: 'consumer:new' | 'media:ready';
}

const isOffer = (x: unknown): x is Omit<OfferSeen, 'via'> =>
  typeof x === 'object' && x !== null && typeof (x as { consumerId?: unknown }).consumerId === 'string' && 'rtpParameters' in x;

/**
 * Every consumer offered to a page in `frames` (as `recordReceivedFrames` keeps them): those
 * announced by `consumer:new`, and those listed in media:ready's answer (an ack frame,
 * `43<id>[{ok, data: {consumers}}]`), which are not announced.
 */
export function consumerOffers(frames: readonly string[]): OfferSeen[] {
  const offers: OfferSeen[] = [];
  const take = (x: unknown, via: OfferSeen['via']) => {
    if (isOffer(x)) offers.push({ consumerId: x.consumerId, peerId: x.peerId, kind: x.kind, source: x.source, via });
  };
  for (const [name, payload] of decodeEvents(frames)) if (name === 'consumer:new') take(payload, 'consumer:new');
  for (const frame of frames) {
    const ack = /^43\d+\[/.exec(frame);
    if (!ack) continue;
    const [answer] = JSON.parse(frame.slice(ack[0].length - 1)) as [{ data?: { consumers?: unknown } } | undefined];
    const listed = answer?.data?.consumers;
    if (Array.isArray(listed)) for (const offer of listed) take(offer, 'media:ready');
  }
  return offers;
}

/**
 * Send a request as the page's own client would, on its open connection, bypassing the UI
 * and the client library: what a tampered client can do. Resolves with the server's answer.
 */
export async function rawRequest(page: Page, name: string, payload: unknown): Promise<unknown> {
  return page.evaluate(
    async ({ name, payload }) => {
      const w = window as unknown as { __sockets: WebSocket[]; __framesIn: string[] };
      const socket = w.__sockets.filter((s) => s.readyState === WebSocket.OPEN).at(-1);
      if (!socket) throw new Error('no open socket');
      // An ack id far above the client's own counter, so the answer is ours alone.
      const id = 900_000 + Math.floor(Math.random() * 90_000);
      socket.send(`42${id}${JSON.stringify([name, payload])}`);
      const prefix = `43${id}`;
      for (let waited = 0; waited < 10_000; waited += 50) {
        const answer = w.__framesIn.find((f) => f.startsWith(prefix));
        if (answer) return (JSON.parse(answer.slice(prefix.length)) as unknown[])[0];
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no answer to ${name}`);
    },
    { name, payload },
  );
}

/**
 * A WAV file of a steady tone, for `--use-file-for-fake-audio-capture`: Chromium's default
 * fake microphone only beeps now and then, and talk time needs someone audibly speaking.
 */
export function writeToneWav(file: string, { seconds = 10, hz = 440, rate = 48_000, amplitude = 0.5 } = {}): void {
  const samples = seconds * rate;
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    data.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * amplitude * 32767), i * 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16); // PCM chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28); // byte rate
  header.writeUInt16LE(2, 32); // block align
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  writeFileSync(file, Buffer.concat([header, data]));
}
