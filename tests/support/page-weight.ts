import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { io } from 'socket.io-client';

/*
 * The room page's JavaScript as a browser loads it from the production build: every script the
 * page loads on /room/<id> (until the network is idle), and the gzip (level 6) of each, summed:
 * what it would weigh if the server compressed it. Used by the budget test
 * (tests/browser/page-weight.test.ts) and by the report's figures (tests/bench/other-figures.ts).
 * Only the first screen is the budget; `scriptWeight` on a page later in the join gives the
 * whole a person's browser has loaded by then (the test prints a member's and a facilitator's).
 */

export interface ScriptWeight {
  url: string;
  /** Bytes once decompressed. */
  decoded: number;
  /** gzip (level 6) of the script. */
  gzipped: number;
}

export interface PageWeight {
  scripts: number;
  /** Bytes over the wire (compressed as served). */
  transferred: number;
  /** Bytes once decompressed. */
  decoded: number;
  /** gzip of each script, summed (what it would be if the server compressed it). */
  gzipped: number;
  /** Each script, largest (gzipped) first. */
  files: ScriptWeight[];
}

/** A room made through the signalling socket (no page involved), for its address. */
export async function createRoomId(serverUrl: string): Promise<string> {
  const socket = io(serverUrl, { transports: ['websocket'], forceNew: true, reconnection: false });
  try {
    const created = (await socket.timeout(10_000).emitWithAck('room:create', {})) as { data: { roomId: string } };
    return created.data.roomId;
  } finally {
    socket.disconnect();
  }
}

/** The scripts `page` has loaded so far, weighed. */
export async function scriptWeight(page: Page): Promise<PageWeight> {
  const entries = await page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .filter((e) => (e as PerformanceResourceTiming).initiatorType === 'script')
      .map((e) => ({ url: e.name, transferred: (e as PerformanceResourceTiming).transferSize, decoded: (e as PerformanceResourceTiming).decodedBodySize })),
  );
  const files: ScriptWeight[] = [];
  for (const entry of entries) {
    const body = Buffer.from(await (await fetch(entry.url)).arrayBuffer());
    files.push({ url: entry.url, decoded: entry.decoded, gzipped: gzipSync(body, { level: 6 }).length });
  }
  files.sort((a, b) => b.gzipped - a.gzipped);
  return {
    scripts: entries.length,
    transferred: entries.reduce((n, e) => n + e.transferred, 0),
    decoded: entries.reduce((n, e) => n + e.decoded, 0),
    gzipped: files.reduce((n, f) => n + f.gzipped, 0),
    files,
  };
}

/** Open /room/<a new room> in a fresh page of `browser` and weigh the scripts it loads. */
export async function measureRoomPage(browser: Browser, serverUrl: string): Promise<PageWeight> {
  const roomId = await createRoomId(serverUrl);
  const page = await browser.newPage();
  try {
    await page.goto(`${serverUrl}/room/${roomId}`, { waitUntil: 'networkidle' });
    return await scriptWeight(page);
  } finally {
    await page.close();
  }
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** The figures as lines: the total, then each script. */
export function describeWeight(label: string, weight: PageWeight): string {
  const lines = [
    `${label}: ${weight.scripts} scripts, ${kib(weight.decoded)} decoded, ${kib(weight.gzipped)} gzipped (${weight.gzipped} bytes), ${kib(weight.transferred)} transferred`,
  ];
  for (const file of weight.files) lines.push(`  ${kib(file.gzipped).padStart(10)} gzip ${kib(file.decoded).padStart(10)} decoded  ${new URL(file.url).pathname}`);
  return lines.join('\n');
}
