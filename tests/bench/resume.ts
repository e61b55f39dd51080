/*
 * bench:resume — how fast a seat comes back. A facilitator (Ada) and two members (Bea, Cyd)
 * are in one room of the production server (one mediasoup worker, auto-admit), in headless
 * Chromium; Bea's signalling goes through a TCP proxy the bench can cut. For N trials of each
 * kind it prints the time from the connection coming back to Bea's video flowing again at
 * each of the other two (a video frame decoded on her tile, her seat shown online):
 *   - socket drop: every connection through the proxy is reset and refused for 2 s; t0 is
 *     when the proxy lets connections through again. Media does not go through the
 *     signalling connection, so it never stopped: the figure is the time to take the seat back.
 *   - reload: t0 is the moment Bea's tab reloads; her media is rebuilt from nothing.
 *   - worker death: t0 is the SIGKILL of the mediasoup worker; the pool starts a new one and
 *     every page rebuilds its media on it (with more workers the room would move to a live
 *     one at once, without waiting for the replacement).
 *   npm run bench:resume -- [trials=5]
 */
import os from 'node:os';
import type { Page } from 'playwright-core';
import { createRoom, enterAdmittedAutomatically, enterAsFacilitator, eventually, launchChromium, newMember, pause, setAutoAdmit, tileConnection } from '../support/browser.js';
import { mediasoupWorkerPids, startProductionServer } from '../support/prod-server.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { quantile } from './measure.js';

const trials = Number(process.argv[2] ?? 5);


/**
 * In a receiving page: from now on, note the first moment (Date.now) Bea's tile is online and
 * a video frame is decoded on its track after this call (on a new track, when `newTrack`).
 */
async function arm(page: Page, newTrack: boolean): Promise<void> {
  await page.evaluate((wantNewTrack) => {
    const w = window as unknown as { __flowAt: number | null; __flowTimer?: ReturnType<typeof setInterval>; __pcs: RTCPeerConnection[] };
    clearInterval(w.__flowTimer);
    w.__flowAt = null;
    const trackOf = () => {
      const video = document.querySelector<HTMLVideoElement>('[data-testid="peer-tile"][data-peer-name="Bea"] video');
      return (video?.srcObject as MediaStream | null | undefined)?.getVideoTracks()[0];
    };
    const oldTrack = trackOf()?.id ?? null;
    const seen = new Map<string, number>();
    w.__flowTimer = setInterval(async () => {
      const tile = document.querySelector('[data-testid="peer-tile"][data-peer-name="Bea"]');
      const track = trackOf();
      if (w.__flowAt !== null || !tile || tile.getAttribute('data-connection') !== 'online' || !track) return;
      if (wantNewTrack && track.id === oldTrack) return;
      let frames = -1;
      for (const pc of w.__pcs) {
        if (pc.connectionState === 'closed') continue;
        (await pc.getStats()).forEach((r: Record<string, unknown>) => {
          if (r['type'] === 'inbound-rtp' && r['trackIdentifier'] === track.id) frames = Number(r['framesDecoded'] ?? 0);
        });
      }
      if (frames < 0) return;
      const first = seen.get(track.id);
      if (first === undefined) seen.set(track.id, frames);
      // A frame decoded since we started looking (on a new track, any frame at all).
      if ((wantNewTrack && frames > 0) || (first !== undefined && frames > first)) {
        w.__flowAt = Date.now();
        clearInterval(w.__flowTimer);
      }
    }, 20);
  }, newTrack);
}

async function flowedAt(page: Page): Promise<number> {
  let at: number | null = null;
  await eventually(async () => {
    at = await page.evaluate(() => (window as unknown as { __flowAt: number | null }).__flowAt);
    if (at === null) throw new Error('Bea is not flowing again yet');
  }, 90_000, 50);
  return at!;
}

async function main(): Promise<void> {
  // The browser first: a machine without one must not be left with a server running.
  const browser = await launchChromium();
  const server = await startProductionServer({ LOG_LEVEL: 'warn', MEDIASOUP_WORKERS: '1' });
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
  const results: Record<string, number[]> = { 'socket drop': [], reload: [], 'worker death': [] };
  try {
    const ada = await newMember(browser, server.url);
    const cyd = await newMember(browser, server.url);
    const bea = await newMember(browser, proxy.url);
    const { facilitatorUrl, inviteUrl } = await createRoom(ada, 'Bench group');
    await enterAsFacilitator(ada, facilitatorUrl, 'Ada');
    await setAutoAdmit(ada.page, true);
    await enterAdmittedAutomatically(cyd, inviteUrl, 'Cyd');
    await enterAdmittedAutomatically(bea, inviteUrl.replace(server.url, proxy.url), 'Bea');
    const receivers = [ada.page, cyd.page];
    const awaySeen = () =>
      eventually(async () => {
        const state = await tileConnection(ada.page, 'Bea');
        if (state !== 'reconnecting') throw new Error('Bea not seen away yet');
      }, 30_000, 50);

    const trial = async (kind: string, newTrack: boolean, breakIt: () => Promise<number>) => {
      for (const page of receivers) await arm(page, false);
      for (const page of receivers) await flowedAt(page); // flowing before we break it
      for (const page of receivers) await arm(page, newTrack);
      const t0 = await breakIt();
      for (const page of receivers) {
        const ms = (await flowedAt(page)) - t0;
        results[kind]!.push(ms);
      }
      process.stdout.write(`${kind}: ${results[kind]!.slice(-2).map((ms) => `${ms} ms`).join(', ')} (Ada, Cyd; load average ${os.loadavg()[0]!.toFixed(1)})\n`);
      await pause(2000);
    };

    for (let i = 0; i < trials; i++) {
      await trial('socket drop', false, async () => {
        proxy.hold();
        proxy.cut();
        await awaySeen();
        await pause(2000);
        // Re-armed after the drop is seen: frames keep coming meanwhile, and count from here.
        for (const page of receivers) await arm(page, false);
        const t0 = Date.now();
        proxy.resume();
        return t0;
      });
    }
    for (let i = 0; i < trials; i++) {
      await trial('reload', true, async () => {
        const t0 = Date.now();
        await bea.page.reload();
        return t0;
      });
    }
    for (let i = 0; i < trials; i++) {
      await trial('worker death', true, async () => {
        const [pid] = mediasoupWorkerPids(server.child.pid!);
        if (!pid) throw new Error('no mediasoup worker found');
        const t0 = Date.now();
        process.kill(pid, 'SIGKILL');
        return t0;
      });
    }

    const lines = ['', `bench:resume — ${trials} trials of each, Bea's video at Ada and at Cyd (${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, headless Chromium, loopback, 1 mediasoup worker)`];
    for (const [kind, samples] of Object.entries(results)) {
      const sorted = [...samples].sort((a, b) => a - b);
      lines.push(
        `  ${kind.padEnd(13)} connection back → media flowing at the others: median ${quantile(sorted, 0.5)} ms, p95 ${quantile(sorted, 0.95)} ms, min ${sorted[0]} ms, max ${sorted.at(-1)} ms (n=${sorted.length})`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n\n`);
  } finally {
    await browser.close();
    await proxy.close();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:resume failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
