import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { events, requests, type IceServer } from '@group-room/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { turnCredentials } from '../../apps/signal/src/auth/turn-credentials.js';
import { USER_QUOTA } from '../../infra/stack/coturn.js';
import { freePort, startChild, waitForPort, type Child } from '../../infra/stack/processes.js';
import { startStackCoturn } from '../../infra/stack/stack.js';
import {
  admittedMember,
  command,
  connect,
  currentView,
  drop,
  enter,
  ok,
  openRoom,
  request,
  resume,
  useServer,
  waitingMember,
  type Person,
} from '../support/signal-client.js';
import { TurnClient, type TurnAnswer } from '../support/turn-client.js';

/*
 * What coturn relays to (#18 item 3), asked as a browser holding valid credentials from the
 * server's own credential function would ask: the stack's coturn and the example
 * configuration operators copy. Only the media servers' addresses get a permission; another
 * loopback address, the cloud metadata address, private and public addresses are refused
 * (403), and so is a TCP relay (RFC 6062). A CreatePermission sends nothing to the peer: no
 * packet leaves loopback.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MEDIA_ADDRESS = '127.0.0.1';

interface Relay {
  port: number;
  secret: string;
}

/** A client with one person's credentials, as `media:join` hands them out. */
async function turnClient(relay: Relay, opened: TurnClient[], transport: 'udp' | 'tcp' = 'udp', memberId = 'member-ada'): Promise<TurnClient> {
  const seat = { roomId: 'room-policy', memberId, until: Date.now() + 90 * 60_000 };
  const [server] = turnCredentials({ TURN_URLS: [`turn:${MEDIA_ADDRESS}:${relay.port}`], TURN_SECRET: relay.secret, TURN_CREDENTIAL_SECONDS: 4 * 3600 }, seat);
  const client = await TurnClient.open({ host: MEDIA_ADDRESS, port: relay.port, transport, username: server!.username, password: server!.credential });
  opened.push(client);
  return client;
}

/** Each peer's answer: relayed, or the error code. */
async function permissions(client: TurnClient, peers: string[]): Promise<Record<string, number | 'relayed'>> {
  const answers: Record<string, number | 'relayed'> = {};
  for (const peer of peers) {
    const answer: TurnAnswer = await client.createPermission(peer);
    answers[peer] = answer.ok ? 'relayed' : answer.code;
  }
  return answers;
}

const refusedPeers = ['127.0.0.2', '169.254.169.254', '10.0.0.1', '172.16.0.1', '192.168.1.1', '100.64.0.1', '8.8.8.8'];
const allRefused = Object.fromEntries(refusedPeers.map((peer) => [peer, 403]));

describe("the stack's coturn", () => {
  let dir: string;
  let relay: Relay;
  let stop: () => Promise<void>;
  const clients: TurnClient[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'group-room-turn-policy-'));
    const coturn = await startStackCoturn(dir, MEDIA_ADDRESS);
    stop = () => coturn.stop();
    relay = { port: Number(/:(\d+)\?/.exec(coturn.urls[0]!)![1]), secret: coturn.secret };
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await stop?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('relays to the media server, and refuses another loopback address, the metadata address and everything else (403)', async () => {
    const client = await turnClient(relay, clients);
    expect(await client.allocate()).toMatchObject({ ok: true });
    expect(await client.createPermission(MEDIA_ADDRESS)).toEqual({ ok: true });
    expect(await permissions(client, refusedPeers)).toEqual(allRefused);
  });

  it('refuses a TCP relay (RFC 6062, 442), while TURN over TCP with a UDP relay still works', async () => {
    const tcp = await turnClient(relay, clients, 'tcp');
    expect(await tcp.allocate('tcp')).toMatchObject({ ok: false, code: 442 });
    const udpOverTcp = await turnClient(relay, clients, 'tcp');
    expect(await udpOverTcp.allocate('udp')).toMatchObject({ ok: true });
    expect(await udpOverTcp.createPermission(MEDIA_ADDRESS)).toEqual({ ok: true });
  });

  it(`lets one person hold ${USER_QUOTA} relays at once, not more (486), while another person still gets one`, async () => {
    for (let i = 0; i < USER_QUOTA; i++) {
      expect(await (await turnClient(relay, clients, 'udp', 'member-bea')).allocate(), `allocation ${i + 1}`).toMatchObject({ ok: true });
    }
    expect(await (await turnClient(relay, clients, 'udp', 'member-bea')).allocate()).toMatchObject({ ok: false, code: 486 });
    expect(await (await turnClient(relay, clients, 'udp', 'member-cyd')).allocate()).toMatchObject({ ok: true });
  });
});

/*
 * The example an operator copies, run by coturn with only its addresses, ports, certificate and
 * secret replaced so that it listens on loopback here: its peer rules, TCP relay and quota
 * lines are kept as written. Its media servers are documentation addresses (203.0.113.0/24).
 */
describe('the example configuration (infra/deploy/turnserver.conf.example)', () => {
  let dir: string;
  let child: Child;
  let relay: Relay;
  let mediaServers: string[];
  const clients: TurnClient[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'group-room-turn-example-'));
    const example = await readFile(path.join(repoRoot, 'infra/deploy/turnserver.conf.example'), 'utf8');
    const local = /^(listening-port|tls-listening-port|listening-ip|relay-ip|external-ip|min-port|max-port|static-auth-secret|cert|pkey|log-file)=/;
    const kept = example.split('\n').filter((line) => line.trim() && !line.startsWith('#') && !local.test(line));
    mediaServers = kept.filter((line) => line.startsWith('allowed-peer-ip=')).map((line) => line.slice('allowed-peer-ip='.length));
    const port = await freePort();
    const minPort = 49_200 + Math.floor(Math.random() * 5000);
    const secret = randomBytes(24).toString('hex');
    const config = [
      ...kept,
      `listening-port=${port}`,
      `listening-ip=${MEDIA_ADDRESS}`,
      `relay-ip=${MEDIA_ADDRESS}`,
      `min-port=${minPort}`,
      `max-port=${minPort + 40}`,
      `static-auth-secret=${secret}`,
      'no-tls',
      'no-dtls',
      'log-file=stdout',
    ];
    const file = path.join(dir, 'turnserver.conf');
    await writeFile(file, config.join('\n') + '\n', { mode: 0o600 });
    child = startChild('turnserver', ['-c', file]);
    await waitForPort(MEDIA_ADDRESS, port, child);
    relay = { port, secret };
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await child?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("relays to the nodes' media addresses (as in a.env.example) and refuses everything else, loopback too", async () => {
    const nodeA = /^MEDIA_ANNOUNCED_ADDRESS=(.+)$/m.exec(await readFile(path.join(repoRoot, 'infra/deploy/a.env.example'), 'utf8'))![1]!;
    expect(mediaServers).toContain(nodeA);
    const client = await turnClient(relay, clients);
    expect(await client.allocate()).toMatchObject({ ok: true });
    expect(await permissions(client, mediaServers)).toEqual(Object.fromEntries(mediaServers.map((peer) => [peer, 'relayed'])));
    expect(await permissions(client, [...refusedPeers, '127.0.0.1', '203.0.113.99'])).toEqual({ ...allRefused, '127.0.0.1': 403, '203.0.113.99': 403 });
  });

  it('refuses a TCP relay and holds each person to the quota', async () => {
    expect(await (await turnClient(relay, clients, 'tcp')).allocate('tcp')).toMatchObject({ ok: false, code: 442 });
    const quota = Number(/^user-quota=(\d+)$/m.exec(await readFile(path.join(repoRoot, 'infra/deploy/turnserver.conf.example'), 'utf8'))?.[1]);
    expect(quota).toBeGreaterThan(0);
    for (let i = 0; i < quota; i++) expect(await (await turnClient(relay, clients, 'udp', 'member-bea')).allocate()).toMatchObject({ ok: true });
    expect(await (await turnClient(relay, clients, 'udp', 'member-bea')).allocate()).toMatchObject({ ok: false, code: 486 });
  });
});

/*
 * Who is handed relay credentials: each admitted person their own (an opaque label, no name,
 * ending with the session), only by `media:join`; nobody on the way in, and nobody once removed
 * or blocked (their socket, their resume credential and their link get them nothing).
 */
describe('who is handed relay credentials', () => {
  const GRACE_SECONDS = 1800;
  const t = useServer({ TURN_URLS: `turn:${MEDIA_ADDRESS}:3478?transport=udp`, TURN_SECRET: randomBytes(24).toString('hex'), ROOM_GRACE_SECONDS: String(GRACE_SECONDS) });

  /** What media:join answers this person: their relay credentials, or the refusal's code. */
  async function relayOf(person: Person): Promise<IceServer | string> {
    const answer = await request(person.socket, 'media:join', {});
    if (!answer.ok) return answer.error.code;
    expect(answer.data.iceServers).toHaveLength(1);
    return answer.data.iceServers[0]!;
  }

  const usernameOf = async (person: Person) => {
    const relay = await relayOf(person);
    if (typeof relay === 'string') throw new Error(`media:join refused: ${relay}`);
    return relay.username;
  };

  it('only media:join answers with them: no other response or event carries a relay', () => {
    const carriers = Object.entries({ ...Object.fromEntries(Object.entries(requests).map(([name, r]) => [name, r.response])), ...events })
      .filter(([, schema]) => JSON.stringify(z.toJSONSchema(schema as z.ZodType, { unrepresentable: 'any', io: 'output' })).includes('"iceServers"'))
      .map(([name]) => name);
    expect(carriers).toEqual(['media:join']);
  });

  it("gives each admitted person their own, without their name, ending with the session, and the same again to the same seat", async () => {
    const room = await openRoom(t.server, 'Fay', { durationMinutes: 60 });
    const fay = room.facilitator;
    const bea = await admittedMember(t.server, room, fay, 'Bea');
    const fayName = await usernameOf(fay);
    const beaName = await usernameOf(bea);
    expect(fayName).not.toBe(beaName);
    const endsAt = currentView(fay).session.endsAt;
    for (const [username, person] of [[fayName, fay], [beaName, bea]] as const) {
      const [expiry, label] = username.split(':');
      expect(Number(expiry)).toBe(Math.floor((endsAt + GRACE_SECONDS * 1000) / 1000));
      for (const part of [person.name, person.id, room.roomId]) expect(label!.toLowerCase()).not.toContain(part.toLowerCase());
    }
    // Back after a dropped connection, the same seat gets the same label (coturn's quota counts people).
    await drop(t.server, bea);
    const back = await resume(t.server, bea);
    expect((await usernameOf(back)).split(':')[1]).toBe(beaName.split(':')[1]);
  });

  it('gives nobody on the way in, and nobody removed or blocked, through their socket, their resume credential or their link', async () => {
    const room = await openRoom(t.server, 'Fay');
    const fay = room.facilitator;
    const wes = await waitingMember(t.server, room, 'Wes');
    expect(await relayOf(wes)).toBe('FORBIDDEN');

    // Removed: the old socket gets nothing, the resume credential takes nothing back, and coming
    // back by the link puts them on the way in again (no relay until admitted again).
    const bea = await admittedMember(t.server, room, fay, 'Bea');
    expect(typeof (await relayOf(bea))).toBe('object');
    await command(fay, { type: 'member.remove', memberId: bea.id, block: false });
    expect(typeof (await relayOf(bea))).toBe('string');
    const beaResume = await request(await connect(t.server), 'room:resume', { roomId: room.roomId, credential: bea.resume.credential });
    expect(beaResume.ok).toBe(false);
    const beaAgain = await enter(t.server, room.roomId, room.inviteToken, 'Bea');
    expect(await relayOf(beaAgain)).toBe('FORBIDDEN');

    // Blocked (their own link): nothing through the socket, the resume credential or the link.
    const { inviteToken } = await ok(fay.socket, 'invite:create', {});
    const mo = await admittedMember(t.server, { ...room, inviteToken }, fay, 'Mo');
    expect(typeof (await relayOf(mo))).toBe('object');
    await command(fay, { type: 'member.remove', memberId: mo.id, block: true });
    expect(typeof (await relayOf(mo))).toBe('string');
    expect((await request(await connect(t.server), 'room:resume', { roomId: room.roomId, credential: mo.resume.credential })).ok).toBe(false);
    expect((await request(await connect(t.server), 'room:enter', { roomId: room.roomId, token: inviteToken, displayName: 'Mo' })).ok).toBe(false);
  });
});
