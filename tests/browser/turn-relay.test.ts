import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCoturn, type Coturn } from '../../infra/stack/coturn.js';
import { freePort } from '../../infra/stack/processes.js';
import {
  createRoom,
  enterAdmittedAutomatically,
  enterAsFacilitator,
  eventually,
  icePaths,
  launchChromium,
  newMember,
  setAutoAdmit,
  type Member,
} from '../support/browser.js';
import { startProductionServer, type RunningServer } from '../support/prod-server.js';
import { expectFlowing } from '../support/room-checks.js';

/*
 * A member whose network lets nothing through but a TURN relay (#10 item 3): coturn from
 * Debian with `use-auth-secret`, the server handing each person time-limited credentials with
 * `media:join`, the member's browser set to relay only. Media flows both ways through coturn,
 * over UDP and, with only a TCP relay offered, over TCP, and with only TURN over TLS, over TLS.
 */

const SAMPLING = { sampleMs: 1500, timeoutMs: 30_000 };
const run = promisify(execFile);

describe('a member reaching the media server only through coturn', () => {
  let dir: string;
  let coturn: Coturn;
  let browser: Browser;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'group-room-coturn-'));
    const minPort = 50_000 + Math.floor(Math.random() * 9000);
    // A self-signed certificate for TURN over TLS: only this test's browser accepts it blindly.
    const cert = path.join(dir, 'turn.crt');
    const key = path.join(dir, 'turn.key');
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert]);
    const tls = { port: await freePort(), cert, key };
    coturn = await startCoturn({ dir, port: await freePort(), listenIp: '127.0.0.1', publicHost: '127.0.0.1', minPort, maxPort: minPort + 40, mediaPeers: ['127.0.0.1'], tls });
    browser = await launchChromium(['--ignore-certificate-errors']);
  });

  afterAll(async () => {
    await browser?.close();
    await coturn?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A room on a server handing out `urls`; the member's browser uses the relay only. */
  async function relayedSession(urls: string[]): Promise<{ server: RunningServer; host: Member; member: Member }> {
    const server = await startProductionServer({ TURN_URLS: urls.join(','), TURN_SECRET: coturn.secret });
    const host = await newMember(browser, server.url);
    const member = await newMember(browser, server.url);
    await member.context.addInitScript(() => window.localStorage.setItem('group-room:relay-only', '1'));
    const { facilitatorUrl, inviteUrl } = await createRoom(host, 'Relay group');
    await enterAsFacilitator(host, facilitatorUrl, 'Ada');
    await setAutoAdmit(host.page, true);
    await enterAdmittedAutomatically(member, inviteUrl, 'Bea');
    return { server, host, member };
  }

  for (const [name, pick, protocol] of [
    ['over UDP', (urls: string[]) => urls, 'udp'],
    ['over TCP, when only a TCP relay is offered', (urls: string[]) => urls.filter((u) => u.startsWith('turn:') && u.endsWith('transport=tcp')), 'tcp'],
    ['over TLS, when only a TLS relay is offered (the strictest networks)', (urls: string[]) => urls.filter((u) => u.startsWith('turns:')), 'tls'],
  ] as const) {
    it(`carries video and audio both ways ${name}`, async () => {
      const { server, host, member } = await relayedSession(pick(coturn.urls));
      try {
        for (const kind of ['audio', 'video'] as const) {
          await expectFlowing(member.page, 'Ada', kind, `Bea receives Ada's ${kind} through the relay`, SAMPLING);
          await expectFlowing(host.page, 'Bea', kind, `Ada receives Bea's ${kind}`, SAMPLING);
        }
        await eventually(async () => {
          const paths = await icePaths(member.page);
          expect(paths.length, 'both of the member\'s transports connected').toBe(2);
          for (const p of paths) expect(p).toEqual({ policy: 'relay', candidateType: 'relay', relayProtocol: protocol });
        });
        // The facilitator, not set to relay only, goes direct.
        for (const p of await icePaths(host.page)) expect(p.candidateType).not.toBe('relay');
      } finally {
        await host.context.close();
        await member.context.close();
        await server.stop();
      }
    });
  }
});
