import type { ClientToServerEvents, RequestPayload, ServerToClientEvents } from '@group-room/shared';
import type { Browser, Page } from 'playwright-core';
import { io, type Socket } from 'socket.io-client';
import { createRoom, enterAdmittedAutomatically, enterAsFacilitator, eventually, newMember, setAutoAdmit } from '../support/browser.js';

/*
 * What the benches share: quantiles, and the mute measurement (bench:mute, bench:flood): its
 * room, a receiver's audio from the speaker, a command on a Socket.IO client, the trials.
 */

export type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
export type CommandInput = RequestPayload<'room:command'>['command'];

export const say = (line = '') => process.stdout.write(`${line}\n`);

/** The q-quantile of sorted samples (nearest rank); NaN without samples. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

/** Samples (ms) as one line: median, p95, min, max and how many. */
export function figure(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `median ${quantile(sorted, 0.5).toFixed(0)} ms, p95 ${quantile(sorted, 0.95).toFixed(0)} ms, min ${sorted[0]?.toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms (n=${sorted.length})`;
}

/** At one receiver: the speaker's inbound audio (bytes, last packet time), matched through the tile's track. */
export async function audioFrom(page: Page, peerName: string): Promise<{ bytes: number; lastPacketAt: number } | null> {
  return page.evaluate(async (name) => {
    const tile = [...document.querySelectorAll<HTMLElement>('[data-testid="peer-tile"]')].find((t) => t.dataset['peerName'] === name);
    const stream = tile?.querySelector('audio')?.srcObject;
    if (!(stream instanceof MediaStream)) return null;
    const ids = new Set(stream.getAudioTracks().map((t) => t.id));
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      let found: { bytes: number; lastPacketAt: number } | null = null;
      const stats = await pc.getStats();
      const now = Date.now();
      stats.forEach((r: Record<string, unknown>) => {
        if (r['type'] === 'inbound-rtp' && ids.has(String(r['trackIdentifier']))) {
          // WebRTC's stats clock is not quite Date.now(): shift by the offset between the two,
          // read off this report's own timestamp, so the packet time compares with t0.
          const offset = now - Number(r['timestamp']);
          found = { bytes: Number(r['bytesReceived'] ?? 0), lastPacketAt: Number(r['lastPacketReceivedTimestamp'] ?? 0) + offset };
        }
      });
      if (found) return found;
    }
    return null;
  }, peerName);
}

export async function sendCommand(socket: Client, command: CommandInput): Promise<void> {
  const result = await socket.timeout(10_000).emitWithAck('room:command', { command });
  if (!result.ok) throw new Error(`${command.type} failed: ${result.error.code} ${result.error.message}`);
}

/** Every receiver's byte count from `speaker` grows: audio is flowing. */
export async function audioFlowing(pages: Page[], speaker: string): Promise<void> {
  await eventually(async () => {
    const before = await Promise.all(pages.map((p) => audioFrom(p, speaker)));
    await new Promise((r) => setTimeout(r, 300));
    const after = await Promise.all(pages.map((p) => audioFrom(p, speaker)));
    after.forEach((sample, i) => {
      if (!sample || sample.bytes <= (before[i]?.bytes ?? 0)) throw new Error(`receiver ${i + 1} gets no audio from the speaker`);
    });
  }, 30_000);
}

// ---------------------------------------------------------------------------------------------
// The mute measurement: a room with a speaker and receivers in Chromium, a facilitator socket

export const SPEAKER = 'Speaker';
/** After a mute, how long to wait before reading the receivers' last packet time. */
const SETTLE_MS = 1200;
/** The member's answer to "the facilitator asks you to unmute", as the UI labels it. */
const ACCEPT_UNMUTE = /^Turn my microphone on$/;

function linkParts(link: string): { roomId: string; token: string } {
  const url = new URL(link);
  return { roomId: url.pathname.split('/').at(-1)!, token: new URLSearchParams(url.hash.slice(1)).get('k')! };
}

export async function connectSocket(baseUrl: string): Promise<Client> {
  const socket: Client = io(baseUrl, { transports: ['websocket'], forceNew: true, reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

/** A socket entered with a room link (facilitator or invite), as `displayName`. */
export async function enterWith(baseUrl: string, link: string, displayName: string) {
  const { roomId, token } = linkParts(link);
  const socket = await connectSocket(baseUrl);
  const result = await socket.timeout(10_000).emitWithAck('room:enter', { roomId, token, displayName });
  if (!result.ok) throw new Error(`${displayName} could not enter: ${result.error.message}`);
  return { socket, roomId, view: result.data.view };
}

export interface MuteRoom {
  roomId: string;
  inviteUrl: string;
  /** The facilitator: a socket in this process, so the moment a mute is sent is known exactly. */
  facilitator: Client;
  /** The host's page (the key leader: it must stay open while the room is measured). */
  hostPage: Page;
  /** The speaking member's id and page, and the receiving members' pages. */
  target: string;
  speakerPage: Page;
  listening: Page[];
}

/**
 * A room made on the start page (auto-admit on) by a host page that stays in it, a facilitator
 * socket in it, and in Chromium a speaking member and `receivers` receiving members who came in
 * through the invite link.
 */
export async function openMuteRoom(browser: Browser, baseUrl: string, receivers: number): Promise<MuteRoom> {
  const host = await newMember(browser, baseUrl);
  const { facilitatorUrl, inviteUrl } = await createRoom(host, 'Bench group');
  await enterAsFacilitator(host, facilitatorUrl, 'Host');
  await setAutoAdmit(host.page, true);
  const { socket, roomId } = await enterWith(baseUrl, facilitatorUrl, 'Bench facilitator');
  let speakerId: string | undefined;
  socket.on('room:view', ({ view }) => {
    speakerId = view.facilitation?.everyone.find((m) => m.displayName === SPEAKER)?.id ?? speakerId;
  });
  // The host's page stays: it came in with the facilitator link, so it holds the room secret and
  // hands out the media keys (a socket cannot); without it nobody's media could be decrypted, and
  // fail closed, nobody would send. Its camera is stopped to spare the CPU.
  await host.page.getByRole('button', { name: 'Stop video' }).click();
  const speaker = await newMember(browser, baseUrl);
  await enterAdmittedAutomatically(speaker, inviteUrl, SPEAKER);
  const listening: Page[] = [];
  for (let i = 1; i <= receivers; i++) {
    const member = await newMember(browser, baseUrl);
    await enterAdmittedAutomatically(member, inviteUrl, `Receiver ${i}`);
    listening.push(member.page);
  }
  if (!speakerId) throw new Error('the speaker never appeared in the facilitator view');
  return { roomId, inviteUrl, facilitator: socket, hostPage: host.page, target: speakerId, speakerPage: speaker.page, listening };
}

export interface Measured {
  /** Mute → last audio packet at each receiver, sorted. */
  latencies: number[];
  /** Mute sent → acknowledged, sorted. */
  acks: number[];
}

/**
 * `trials` times: check every receiver gets the speaker's audio, note t0 and mute the speaker,
 * wait, read each receiver's last audio packet time (getStats), then ask the speaker to unmute
 * and accept in the UI.
 */
export async function measureMutes(room: MuteRoom, trials: number, label: string): Promise<Measured> {
  const latencies: number[] = [];
  const acks: number[] = [];
  for (let trial = 1; trial <= trials; trial++) {
    await audioFlowing(room.listening, SPEAKER);
    const t0 = Date.now();
    await sendCommand(room.facilitator, { type: 'member.mute', memberId: room.target, source: 'mic' });
    acks.push(Date.now() - t0);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const last = await Promise.all(room.listening.map((p) => audioFrom(p, SPEAKER)));
    const perReceiver = last.map((s) => (s ? s.lastPacketAt - t0 : NaN));
    latencies.push(...perReceiver.filter((v) => Number.isFinite(v)));
    say(`${label}trial ${trial}: mute → last audio packet ${perReceiver.map((v) => `${v.toFixed(0)} ms`).join(', ')} (ack ${acks.at(-1)} ms)`);
    await sendCommand(room.facilitator, { type: 'member.ask', memberId: room.target, source: 'mic' });
    await room.speakerPage.getByRole('button', { name: ACCEPT_UNMUTE }).click();
  }
  return { latencies: latencies.sort((a, b) => a - b), acks: acks.sort((a, b) => a - b) };
}
