import type { Browser } from 'playwright-core';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoom, enterAsFacilitator, launchChromium, newMember } from '../support/browser.js';
import { startProductionServer, type RunningServer } from '../support/prod-server.js';

/*
 * The production server's answers to a browser: a Content Security Policy with a fresh nonce
 * on every page (and Next's inline scripts carrying it), no framing, no referrer, camera and
 * microphone for this origin only, HSTS once served over HTTPS; sockets only from its own
 * pages. And a real page still works under that policy.
 */

const ROOM_PATH = '/room/abcdefghijklmnop';

function nonceOf(policy: string | null): string {
  const match = /'nonce-([^']+)'/.exec(policy ?? '');
  if (!match?.[1]) throw new Error(`no nonce in ${policy}`);
  return match[1];
}

/** Whether a Socket.IO client sending this Origin (or none) is let in. */
function socketLetIn(url: string, origin?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...(origin ? { extraHeaders: { Origin: origin } } : {}) });
    socket.once('connect', () => {
      socket.close();
      resolve(true);
    });
    socket.once('connect_error', () => {
      socket.close();
      resolve(false);
    });
  });
}

describe('security headers and socket origins (production build)', () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startProductionServer();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it.each(['/', ROOM_PATH])('%s: CSP with a fresh nonce on its scripts, no framing, no referrer, devices for this origin only', async (path) => {
    const first = await fetch(`${server.url}${path}`);
    const second = await fetch(`${server.url}${path}`);
    expect(first.status).toBe(200);
    const policy = first.headers.get('content-security-policy');
    expect(policy).toMatch(/script-src 'self' 'nonce-[^']+' 'strict-dynamic'(;|$)/);
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("object-src 'none'");
    expect(policy).not.toContain('unsafe-eval');
    expect(nonceOf(policy)).not.toBe(nonceOf(second.headers.get('content-security-policy')));
    // Every script Next puts in the page carries this response's nonce.
    const html = await first.text();
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const tag of scripts) expect(tag, tag).toContain(`nonce="${nonceOf(policy)}"`);
    expect(first.headers.get('x-frame-options')).toBe('DENY');
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');
    expect(first.headers.get('x-content-type-options')).toBe('nosniff');
    expect(first.headers.get('permissions-policy')).toBe('camera=(self), microphone=(self), display-capture=(self)');
    // helmet's, on pages as on every answer.
    expect(first.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(first.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect(first.headers.get('strict-transport-security')).toBeNull();
  });

  it('the health and API answers carry the same headers and a policy that allows nothing', async () => {
    for (const path of ['/healthz', '/readyz', '/api/room-creation']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.headers.get('content-security-policy'), path).toBe("default-src 'none';frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('x-frame-options'), path).toBe('DENY');
      expect(response.headers.get('referrer-policy'), path).toBe('no-referrer');
    }
  });

  it('HSTS once the TLS proxy on this machine (TRUST_PROXY: loopback by default) says the request came over HTTPS', async () => {
    for (const path of ['/', '/healthz', '/api/room-creation']) {
      const response = await fetch(`${server.url}${path}`, { headers: { 'X-Forwarded-Proto': 'https' } });
      expect(response.headers.get('strict-transport-security'), path).toMatch(/^max-age=\d{8}; includeSubDomains$/);
    }
  });

  it("sockets only from the server's own pages (CORS does not cover WebSockets)", async () => {
    expect(await socketLetIn(server.url, 'https://evil.example')).toBe(false);
    expect(await socketLetIn(server.url, 'http://127.0.0.1:1')).toBe(false);
    expect(await socketLetIn(server.url, 'null')).toBe(false);
    expect(await socketLetIn(server.url, server.url)).toBe(true);
    expect(await socketLetIn(server.url)).toBe(true); // not a browser page
    expect(server.child.exitCode).toBeNull();
  });

  it('a facilitator gets into a room with media under that policy, with no violation reported', async () => {
    const ada = await newMember(browser, server.url);
    const violations: string[] = [];
    ada.page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });
    const { facilitatorUrl } = await createRoom(ada, 'CSP group');
    await enterAsFacilitator(ada, facilitatorUrl, 'Ada');
    expect(violations).toEqual([]);
  });
});

describe('the start page with a facilitator access key (production build)', () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startProductionServer({ ROOM_CREATION_KEY: 'a long enough passphrase' });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('asks for the key, says plainly when it is wrong, and creates the session with the right one', async () => {
    const { page } = await newMember(browser, server.url);
    await page.goto('/');
    const key = page.getByLabel('Facilitator access key');
    await key.fill('not the passphrase');
    await page.getByRole('button', { name: 'Create the session' }).click();
    await page.locator('.error', { hasText: 'That facilitator access key is not right' }).waitFor();
    await key.fill('a long enough passphrase');
    await page.getByRole('button', { name: 'Create the session' }).click();
    await expect(page.getByTestId('facilitator-link').inputValue()).resolves.toContain('#k=');
  });
});
