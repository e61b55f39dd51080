import { describe, expect, it } from 'vitest';
import {
  admittedMember,
  command,
  drop,
  expectError,
  mediaJoin,
  ok,
  openRoom,
  receive,
  request,
  resume,
  sendMic,
  useServer,
  waitingMember,
  waitForOffer,
} from '../support/signal-client.js';

/*
 * The Prometheus endpoint (#10 item 4): on its own listener with a token, the figures a
 * operator watches, and nothing that identifies anyone (names, titles, room ids, tokens,
 * addresses) in a label or a value.
 */

const TOKEN = 'metrics-token-for-the-test-0001';
const TITLE = 'Wednesday bereavement circle';
const NAMES = ['Philippa Quennell', 'Octavius Brumby', 'Xanthe Marchbanks'];

describe('metrics', () => {
  const t = useServer({ METRICS_PORT: '0', METRICS_TOKEN: TOKEN });

  const scrape = async (token: string | null = TOKEN) =>
    fetch(`http://127.0.0.1:${t.server.metricsPort}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

  /** The value of one sample line (`name{labels} value`), or undefined. */
  const sample = (text: string, series: string): number | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('are served on their own port, only with the token', async () => {
    expect((await scrape(null)).status).toBe(401);
    expect((await scrape('a-wrong-token-of-some-length')).status).toBe(401);
    const response = await scrape();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    // Not on the public port.
    expect((await fetch(`${t.server.url}/metrics`)).status).toBe(404);
  });

  it('count rooms, people by stage, media, commands, mutes, resumes and refusals, with nothing that identifies anyone', async () => {
    const { server } = t;
    const room = await openRoom(server, NAMES[0], { title: TITLE });
    const fac = room.facilitator;
    const mo = await admittedMember(server, room, fac, NAMES[1]!);
    await waitingMember(server, room, NAMES[2]!);
    const capabilities = await mediaJoin(fac);
    await mediaJoin(mo);
    const mic = await sendMic(mo, 7070);
    await receive(fac, capabilities);
    const consumer = await waitForOffer(fac.socket, (c) => c.producerId === mic);
    await ok(fac.socket, 'consumer:resume', { consumerId: consumer.consumerId });
    const before = await (await scrape()).text();
    await command(fac, { type: 'member.mute', memberId: mo.id, source: 'mic' });
    expectError(await request(mo.socket, 'room:command', { command: { type: 'room.setLocked', locked: true } }), 'FORBIDDEN');
    await drop(server, mo);
    await resume(server, mo);

    const text = await (await scrape()).text();
    expect(sample(text, 'group_room_rooms')).toBe(1);
    expect(sample(text, 'group_room_people{stage="admitted"}')).toBe(2);
    expect(sample(text, 'group_room_people{stage="waiting"}')).toBe(1);
    expect(sample(text, 'group_room_people{stage="agreement"}')).toBe(0);
    expect(sample(text, 'group_room_routers{worker="0"}')).toBe(1);
    expect(sample(text, 'group_room_producers{worker="0"}')).toBe(1);
    expect(sample(text, 'group_room_consumers{worker="0"}')).toBe(1);
    expect(sample(text, 'group_room_transports{worker="0"}')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'group_room_worker_cpu_seconds{worker="0"}')).toBeGreaterThan(0);
    expect(sample(text, 'group_room_worker_max_rss_bytes{worker="0"}')).toBeGreaterThan(1_000_000);
    expect(sample(text, 'group_room_mute_to_pause_seconds_count')).toBe(1);
    const commands = 'group_room_request_duration_seconds_count{request="room:command"}';
    expect(sample(text, commands)! - sample(before, commands)!).toBe(2);
    expect(sample(text, 'group_room_requests_refused_total{code="FORBIDDEN"}')).toBe(1);
    expect(sample(text, 'group_room_resumes_total{outcome="ok"}')).toBe(1);
    expect(sample(text, 'group_room_draining')).toBe(0);
    expect(sample(text, 'group_room_lease_valid')).toBe(1);
    expect(text).toMatch(/^group_room_nodejs_eventloop_lag_seconds \d/m);
    expect(text).toMatch(/^group_room_process_cpu_seconds_total \d/m);

    for (const secret of [TITLE, ...NAMES, room.roomId, room.inviteToken, room.facilitatorToken, mo.id, fac.id, '127.0.0.1']) {
      expect(text).not.toContain(secret);
    }
  });
});
