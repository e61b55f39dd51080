import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY_GUESSES } from '@group-room/signal';
import { disconnectAll, expectError, REDIS_URL, request, startServer, tryConnect, useRedis, type TestServer } from '../support/signal-client.js';

/*
 * Wrong facilitator access keys (#18 item 2): limited per address (an address that guessed
 * too often is refused, the right key too, while a facilitator elsewhere goes on), and across
 * the whole deployment (ACCESS_KEY_GUESSES_PER_HOUR, counted in Redis): once that ceiling is
 * reached, key tries are refused except from addresses that created a session with the right
 * key lately, and the metrics say so.
 */

const KEY = 'correct horse battery staple';
const TOKEN = 'metrics-token-for-the-test-0002';
const prefix = `grt:keys:${randomUUID().slice(0, 8)}:`;
const redis = useRedis(prefix);
const servers: TestServer[] = [];

afterEach(async () => {
  disconnectAll();
  for (const t of servers.splice(0)) await t.server.close();
});

/** Two nodes sharing one Redis, with metrics on. */
async function twoNodes(env: Record<string, string> = {}): Promise<readonly [TestServer, TestServer]> {
  const shared = {
    REDIS_URL,
    REDIS_KEY_PREFIX: `${prefix}${randomUUID().slice(0, 8)}:`,
    TOKEN_SECRET: randomBytes(32).toString('hex'),
    ROOM_CREATION_KEY: KEY,
    METRICS_PORT: '0',
    METRICS_TOKEN: TOKEN,
    ...env,
  };
  for (let i = 0; i < 2; i++) servers.push(await startServer(shared));
  return [servers[0]!, servers[1]!];
}

/** Try to create a session on `t` as a client at `address` (through the loopback proxy). */
async function createFrom(t: TestServer, address: string, accessKey: string) {
  const { socket, refused } = await tryConnect(t.server.url, { extraHeaders: { 'x-forwarded-for': address } });
  if (refused) throw refused;
  return request(socket, 'room:create', { accessKey });
}

async function metric(t: TestServer, series: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${t.server.metricsPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('wrong facilitator access keys', () => {
  it('an address locked out for guessing does not lock out a facilitator elsewhere', async () => {
    const [a, b] = await twoNodes();
    for (let i = 0; i < KEY_GUESSES; i++) expectError(await createFrom(i % 2 ? a : b, '198.51.100.60', `guess ${i}`), 'FORBIDDEN');
    expectError(await createFrom(a, '198.51.100.60', KEY), 'RATE_LIMITED');
    expect((await createFrom(b, '198.51.100.61', KEY)).ok).toBe(true);
    expect((await createFrom(a, '2001:db8:60::1', KEY)).ok).toBe(true);
    expect(await metric(a, 'group_room_access_key_ceiling_reached')).toBe(0);
  });

  it('past the deployment-wide ceiling, only addresses that created a session with the key lately get to try', async () => {
    const [a, b] = await twoNodes({ ACCESS_KEY_GUESSES_PER_HOUR: '12' });
    // A facilitator who has created sessions from here before.
    expect((await createFrom(a, '198.51.100.70', KEY)).ok).toBe(true);
    expect(await metric(a, 'group_room_access_key_ceiling_reached')).toBe(0);

    // Wrong keys from many addresses, each well under its own limit, spread over both nodes.
    for (let i = 0; i < 12; i++) expectError(await createFrom(i % 2 ? a : b, `203.0.113.${i + 1}`, `guess ${i}`), 'FORBIDDEN');
    expect((await metric(a, 'group_room_access_key_wrong_total')) ?? 0).toBeGreaterThan(0);
    expect(((await metric(a, 'group_room_access_key_wrong_total')) ?? 0) + ((await metric(b, 'group_room_access_key_wrong_total')) ?? 0)).toBe(12);

    // Now a new address is refused, right key or not, on either node...
    for (const node of [a, b]) {
      const error = expectError(await createFrom(node, '198.51.100.71', KEY), 'RATE_LIMITED');
      expect(error.message).toMatch(/try again in \d+ minutes?/);
      expectError(await createFrom(node, '198.51.100.72', 'another guess'), 'RATE_LIMITED');
    }
    // ...while the known facilitator goes on creating sessions, from either node.
    expect((await createFrom(b, '198.51.100.70', KEY)).ok).toBe(true);
    expect((await createFrom(a, '198.51.100.70', KEY)).ok).toBe(true);
    // Both nodes tell the operator.
    expect(await metric(a, 'group_room_access_key_ceiling_reached')).toBe(1);
    expect(await metric(b, 'group_room_access_key_ceiling_reached')).toBe(1);
    // No address is stored as it is.
    const keys = await redis.client.keys(`${prefix}*`);
    for (const key of keys) expect(key).not.toMatch(/198\.51|203\.0/);
  });
});
