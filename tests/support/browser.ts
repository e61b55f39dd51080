import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Debian's Chromium, headless, with fake camera and microphone, WebRTC allowed on loopback.
 * `executablePath`: another way to start it (e.g. a wrapper that runs it in a network namespace).
 */
export async function launchChromium(extraArgs: string[] = [], executablePath = CHROMIUM): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}

/**
 * Record every RTCPeerConnection the page makes, so tests can read getStats() without any
 * hook in the product's code.
 */
export const recordPeerConnections = () => {
  const Native = window.RTCPeerConnection;
  const created: RTCPeerConnection[] = [];
  (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = created;
  window.RTCPeerConnection = class extends Native {
    constructor(config?: RTCConfiguration) {
      super(config);
      created.push(this);
    }
  } as typeof RTCPeerConnection;
};

export interface Member {
  context: BrowserContext;
  page: Page;
}

export async function newMember(browser: Browser, baseUrl: string): Promise<Member> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1024, height: 700 } });
  await context.grantPermissions(['camera', 'microphone']);
  await context.addInitScript(recordPeerConnections);
  // tsx (esbuild, keepNames) wraps functions sent to page.evaluate in a __name() helper.
  await context.addInitScript('globalThis.__name = (fn) => fn;');
  const page = await context.newPage();
  return { context, page };
}

export interface RoomLinks {
  facilitatorUrl: string;
  inviteUrl: string;
}

export const PRIVATE_SPACE = 'I am somewhere private where others cannot see or hear the group';
export const AUTO_ADMIT = 'Let people in automatically once they accept the agreement';

/** From the home page's "Start a session" form: create a room and read its two links. */
export async function createRoom(member: Member, title = 'Test group', durationMinutes = 90): Promise<RoomLinks> {
  const { page } = member;
  await page.goto('/');
  await page.getByLabel('Session title (optional)').fill(title);
  await page.getByLabel('Length in minutes').fill(String(durationMinutes));
  await page.getByRole('button', { name: 'Create the session' }).click();
  const facilitatorUrl = await page.getByTestId('facilitator-link').inputValue();
  const inviteUrl = await page.getByTestId('invite-link').inputValue();
  return { facilitatorUrl, inviteUrl };
}

/** The entry form every link starts with: a name and the "somewhere private" confirmation. */
export async function fillEntryForm(page: Page, name: string): Promise<void> {
  await page.getByLabel('Your name, as the group will see it').fill(name);
  await page.getByLabel(PRIVATE_SPACE).check();
}

/** Open the facilitator link and go straight into the room, media connected. */
export async function enterAsFacilitator(member: Member, facilitatorUrl: string, name: string): Promise<void> {
  await member.page.goto(facilitatorUrl);
  await fillEntryForm(member.page, name);
  await member.page.getByRole('button', { name: 'Continue' }).click();
  await member.page.locator('main[data-status="joined"]').waitFor();
}

/** Open an invite link, give a name, confirm privacy, accept the agreement: lands waiting. */
export async function enterAsMember(member: Member, inviteUrl: string, name: string): Promise<void> {
  const { page } = member;
  await page.goto(inviteUrl);
  await fillEntryForm(page, name);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('main[data-status="agreement"]').waitFor();
  await page.getByRole('button', { name: 'I agree' }).click();
  await page.locator('main[data-status="waiting"]').waitFor();
}

/** With auto-admit on: the invite link, the entry form, the agreement, straight into the room. */
export async function enterAdmittedAutomatically(member: Member, inviteUrl: string, name: string): Promise<void> {
  const { page } = member;
  await page.goto(inviteUrl);
  await fillEntryForm(page, name);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('button', { name: 'I agree' }).click();
  await page.locator('main[data-status="joined"]').waitFor({ timeout: 60_000 });
}

/** The facilitator admits one waiting person by name. */
export async function admit(facilitatorPage: Page, name: string): Promise<void> {
  await facilitatorPage.getByRole('button', { name: `Admit ${name}`, exact: true }).click();
}

/** The facilitator admits everyone who is waiting. */
export async function admitAll(facilitatorPage: Page): Promise<void> {
  await facilitatorPage.getByRole('button', { name: /^Admit all/ }).click();
}

/** Turn auto-admit on or off, and wait until the server's view agrees. */
export async function setAutoAdmit(facilitatorPage: Page, enabled: boolean): Promise<void> {
  const toggle = facilitatorPage.getByLabel(AUTO_ADMIT);
  if ((await toggle.isChecked()) !== enabled) await toggle.click();
  await eventually(async () => {
    if ((await toggle.isChecked()) !== enabled) throw new Error(`auto-admit is not ${enabled ? 'on' : 'off'}`);
  }, 10_000);
}

export interface InboundSample {
  peerName: string;
  kind: 'audio' | 'video';
  bytesReceived: number;
  framesDecoded: number;
  /** Video: the height of the last frame received (0 before any, and for audio). */
  frameHeight: number;
}

/**
 * Inbound RTP per remote member: each tile's track ids are matched to the inbound-rtp
 * reports' trackIdentifier, so a figure is attributed to the member it came from.
 */
export async function inboundByPeer(page: Page): Promise<InboundSample[]> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    const reports: { trackIdentifier: string; kind: string; bytesReceived: number; framesDecoded: number; frameHeight: number }[] = [];
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      stats.forEach((r: Record<string, unknown>) => {
        if (r['type'] === 'inbound-rtp') {
          reports.push({
            trackIdentifier: String(r['trackIdentifier']),
            kind: String(r['kind']),
            bytesReceived: Number(r['bytesReceived'] ?? 0),
            framesDecoded: Number(r['framesDecoded'] ?? 0),
            frameHeight: Number(r['frameHeight'] ?? 0),
          });
        }
      });
    }
    const samples: { peerName: string; kind: 'audio' | 'video'; bytesReceived: number; framesDecoded: number; frameHeight: number }[] = [];
    for (const tile of document.querySelectorAll<HTMLElement>('[data-testid="peer-tile"]')) {
      const peerName = tile.dataset['peerName'] ?? '';
      const media = [tile.querySelector('video'), tile.querySelector('audio')];
      for (const element of media) {
        const stream = element?.srcObject;
        if (!(stream instanceof MediaStream)) continue;
        for (const track of stream.getTracks()) {
          const report = reports.find((r) => r.trackIdentifier === track.id);
          if (report) {
            const { bytesReceived, framesDecoded, frameHeight } = report;
            samples.push({ peerName, kind: track.kind as 'audio' | 'video', bytesReceived, framesDecoded, frameHeight });
          }
        }
      }
    }
    return samples;
  });
}

export interface OutboundLayer {
  /** The simulcast layer's rid (mediasoup-client names them r0, r1, … lowest first); '' without simulcast. */
  rid: string;
  frameHeight: number;
  bytesSent: number;
}

/** What the page sends of its camera, per simulcast layer, as the browser's outbound-rtp reports say. */
export async function outboundVideoLayers(page: Page): Promise<OutboundLayer[]> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    const layers: { rid: string; frameHeight: number; bytesSent: number }[] = [];
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      stats.forEach((r: Record<string, unknown>) => {
        if (r['type'] !== 'outbound-rtp' || r['kind'] !== 'video') return;
        layers.push({ rid: String(r['rid'] ?? ''), frameHeight: Number(r['frameHeight'] ?? 0), bytesSent: Number(r['bytesSent'] ?? 0) });
      });
    }
    return layers.sort((a, b) => a.rid.localeCompare(b.rid));
  });
}

export async function peerNames(page: Page): Promise<string[]> {
  return page.locator('[data-testid="peer-tile"]').evaluateAll((tiles) => tiles.map((t) => (t as HTMLElement).dataset['peerName'] ?? ''));
}

/** The connection state (online, reconnecting) `page` shows on `name`'s tile. */
export const tileConnection = (page: Page, name: string) => page.locator(`[data-testid="peer-tile"][data-peer-name="${name}"]`).getAttribute('data-connection');

export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `check` passes or the time is up; returns the last error for a clear failure. */
export async function eventually(check: () => Promise<void>, timeoutMs = 20_000, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

/**
 * Record the text of every WebSocket frame the page receives (Socket.IO frames such as
 * `42["room:view",{...}]`), from now on. Call it before the page opens its socket.
 */
export function recordReceivedFrames(page: Page): string[] {
  const frames: string[] = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => frames.push(typeof payload === 'string' ? payload : payload.toString('utf8')));
  });
  return frames;
}

export interface InboundTotals {
  /** How many inbound-rtp reports the page's open peer connections have. */
  reports: number;
  audioBytes: number;
  videoBytes: number;
}

/**
 * Every inbound-rtp report of every open peer connection, summed by kind, whether or not a
 * tile shows the track (someone re-reading the agreement sees no tiles, but may still hold
 * consumers). With one other person in the room, this is what comes from them.
 *
 * Left out: mediasoup-client's "probator" receiver (SSRC 1234), which takes mediasoup's
 * bandwidth-probing padding. It carries nobody's media, and mediasoup probes most when
 * little media flows, so counting it would make paused media look as if it still flowed.
 */
export async function inboundTotals(page: Page): Promise<InboundTotals> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
    const totals = { reports: 0, audioBytes: 0, videoBytes: 0 };
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      stats.forEach((r: Record<string, unknown>) => {
        if (r['type'] !== 'inbound-rtp') return;
        if (r['trackIdentifier'] === 'probator' || r['ssrc'] === 1234) return;
        totals.reports++;
        const bytes = Number(r['bytesReceived'] ?? 0);
        if (r['kind'] === 'audio') totals.audioBytes += bytes;
        else if (r['kind'] === 'video') totals.videoBytes += bytes;
      });
    }
    return totals;
  });
}

/**
 * Keep every value `main[data-status]` takes on the current document from now on; read them
 * with `statusHistory`. (A navigation starts a new document: call it again after one.)
 */
export async function watchStatuses(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { __statuses: string[] }).__statuses = seen;
    const note = () => {
      const status = document.querySelector('main')?.getAttribute('data-status') ?? '';
      if (seen[seen.length - 1] !== status) seen.push(status);
    };
    note();
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
  });
}

/**
 * Keep every value `main[data-status]` takes in every document `context` loads, from its first
 * paint (a reload included); read them with `statusHistory`, forget them with `resetStatusHistory`.
 */
export async function watchStatusesFromStart(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __statuses: string[] }).__statuses = seen;
    const note = () => {
      const status = document.querySelector('main')?.getAttribute('data-status');
      if (status && seen[seen.length - 1] !== status) seen.push(status);
    };
    new MutationObserver(note).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
  });
}

/** Forget the statuses seen so far on this document (what comes next is what a test checks). */
export async function resetStatusHistory(page: Page): Promise<void> {
  await page.evaluate(() => (window as unknown as { __statuses?: string[] }).__statuses?.splice(0));
}

export async function statusHistory(page: Page): Promise<string[]> {
  return page.evaluate(() => [...((window as unknown as { __statuses?: string[] }).__statuses ?? [])]);
}

export interface IcePath {
  /** The page's RTCPeerConnection was made with this policy. */
  policy: RTCIceTransportPolicy | undefined;
  /** The local candidate of the selected pair: `relay` when the media goes through TURN. */
  candidateType: string;
  /** For a relay candidate, how the browser reaches the relay (`udp`, `tcp`, `tls`). */
  relayProtocol: string | undefined;
}

/** The ICE path each open RTCPeerConnection of the page has selected (none before ICE connected). */
export async function icePaths(page: Page): Promise<IcePath[]> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    const paths: { policy: RTCIceTransportPolicy | undefined; candidateType: string; relayProtocol: string | undefined }[] = [];
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      const byId = new Map<string, Record<string, unknown>>();
      stats.forEach((r: Record<string, unknown>) => byId.set(String(r['id']), r));
      for (const report of byId.values()) {
        if (report['type'] !== 'transport' || !report['selectedCandidatePairId']) continue;
        const pair = byId.get(String(report['selectedCandidatePairId']));
        const local = pair ? byId.get(String(pair['localCandidateId'])) : undefined;
        if (!local) continue;
        paths.push({
          policy: pc.getConfiguration().iceTransportPolicy,
          candidateType: String(local['candidateType']),
          relayProtocol: local['relayProtocol'] === undefined ? undefined : String(local['relayProtocol']),
        });
      }
    }
    return paths;
  });
}
