import type { ClientToServerEvents, RequestPayload, ServerToClientEvents } from '@group-room/shared';
import type { Page } from 'playwright-core';
import type { Socket } from 'socket.io-client';
import { eventually } from '../support/browser.js';

/*
 * What the benches share: quantiles, and the mute measurement's parts (a receiver's audio
 * from the speaker, a command on a Socket.IO client, waiting for audio to flow).
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
