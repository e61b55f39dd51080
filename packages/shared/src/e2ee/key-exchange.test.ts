import { afterEach, describe, expect, it } from 'vitest';
import type { Aside, RoomView } from '../room.js';
import { toBase64url } from './bytes.js';
import { decodeWire, encodeWire, newEphemeral } from './handshake.js';
import { KeyExchange, type KeySink, type KeyTimings } from './key-exchange.js';
import type { KeyRef } from './key-schedule.js';
import { inviteSecret, newRoomSecret, parseSecret } from './secrets.js';

/*
 * The key exchange's rules, with every browser in this process and a relay standing in for the
 * server (which can also tamper with what it relays): who gets which key when, and what a
 * newcomer and a removed member can and cannot have.
 */

const ROOM = 'room-0123456789';
const TIMINGS: KeyTimings = { batchMs: 10, ackWaitMs: 300, forgetAfterMs: 400, rotateEveryMs: 60_000 };

class Sink implements KeySink {
  readonly epochs = new Map<number, number>();
  readonly used: (KeyRef | null)[] = [];
  readonly forgotten: number[] = [];
  setSelf(): void {}
  addKeys(keys: (KeyRef & { key: Uint8Array })[]): void {
    for (const { gen, step } of keys) this.epochs.set(gen, Math.min(step, this.epochs.get(gen) ?? step));
  }
  use(ref: KeyRef | null): void {
    this.used.push(ref);
  }
  forget(gens: number[]): void {
    this.forgotten.push(...gens);
    for (const gen of gens) this.epochs.delete(gen);
  }
  get last(): KeyRef | null | undefined {
    return this.used.at(-1);
  }
}

/** 'facilitator': came in with the facilitator link (holds the room secret); the others with an invite. */
type PersonRole = 'facilitator' | 'cofacilitator' | 'member';

interface Person {
  id: string;
  role: PersonRole;
  inviteId: string | null;
  exchange: KeyExchange;
  sink: Sink;
}

const until = async (check: () => boolean, what: string, ms = 3000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

class Room {
  readonly roomSecret = parseSecret(newRoomSecret())!;
  readonly people = new Map<string, Person>();
  /** What the relay does to a blob on its way (the server is not trusted). */
  tamper: (from: string, to: string, data: string) => string = (_f, _t, data) => data;
  readonly exchanges: KeyExchange[] = [];
  readonly away = new Set<string>();
  /** Connected, but not let have media now (re-reading a changed agreement): the relay refuses them. */
  readonly paused = new Set<string>();
  /** Who is aside now, as the server's view says. */
  aside: Aside | null = null;

  async join(id: string, role: PersonRole): Promise<Person> {
    const person = await this.#page(id, role);
    this.people.set(id, person);
    this.broadcast();
    return person;
  }

  /** The same person on a new page (a reload): a new key exchange, with nothing of the old page's. */
  async reload(id: string): Promise<Person> {
    const old = this.people.get(id)!;
    old.exchange.close();
    const person = await this.#page(id, old.role);
    this.people.set(id, person);
    this.broadcast();
    return person;
  }

  async #page(id: string, role: PersonRole): Promise<Person> {
    const inviteId = role === 'facilitator' ? null : `invite-${id}`;
    const secret = role === 'facilitator' ? { kind: 'room' as const, bytes: this.roomSecret } : { kind: 'invite' as const, bytes: await inviteSecret(this.roomSecret, inviteId!) };
    const sink = new Sink();
    const exchange = new KeyExchange(
      {
        roomId: ROOM,
        secret,
        send: async (to, data) => {
          const target = this.people.get(to);
          // As the server answers for someone whose connection is gone (their seat is kept).
          if (!target || this.away.has(to) || this.away.has(id)) throw Object.assign(new Error('not connected'), { code: 'INVALID_STATE' });
          if (this.paused.has(to) || this.paused.has(id)) throw Object.assign(new Error('not in the room now'), { code: 'FORBIDDEN' });
          const delivered = this.tamper(id, to, data);
          setTimeout(() => target.exchange.receive(id, delivered), 0);
        },
        keysReady: () => undefined,
        changed: () => undefined,
      },
      sink,
      TIMINGS,
    );
    this.exchanges.push(exchange);
    return { id, role, inviteId, exchange, sink };
  }

  setAside(aside: Aside | null): void {
    this.aside = aside;
    this.broadcast();
  }

  setPaused(id: string, paused: boolean): void {
    if (paused) this.paused.add(id);
    else this.paused.delete(id);
    this.broadcast();
  }

  setAway(id: string, away: boolean): void {
    if (away) this.away.add(id);
    else this.away.delete(id);
    this.broadcast();
  }

  leave(id: string): void {
    this.people.get(id)?.exchange.close();
    this.people.delete(id);
    this.broadcast();
  }

  broadcast(): void {
    const members = [...this.people.values()].map((p) => ({
      id: p.id,
      displayName: p.id,
      role: p.role,
      connection: this.away.has(p.id) ? 'reconnecting' : 'online',
      producers: [],
      sending: { mic: true, camera: true },
    }));
    for (const p of this.people.values()) {
      // A page whose connection is gone hears nothing of the room.
      if (this.away.has(p.id)) continue;
      const view = {
        roomId: ROOM,
        self: { id: p.id, role: p.role, media: !this.paused.has(p.id), inviteId: p.inviteId },
        members,
        facilitation: p.role === 'facilitator' ? { everyone: [...this.people.values()].map((q) => ({ id: q.id, inviteId: q.inviteId })) } : undefined,
        aside: this.aside,
      } as unknown as RoomView;
      p.exchange.setView(view);
    }
  }

  close(): void {
    for (const exchange of this.exchanges) exchange.close();
  }
}

let room: Room;
afterEach(() => room?.close());

const same = (a: KeyRef | null | undefined, b: KeyRef | null | undefined) => !!a && !!b && a.gen === b.gen && a.step === b.step;

describe('the key exchange', () => {
  it('hands a newcomer the key one ratchet step on, and moves everyone there; the newcomer has no earlier step', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    await until(() => !!fran.sink.last, 'the leader makes a generation');
    const first = fran.sink.last!;
    const ada = await room.join('ada', 'member');
    await until(() => same(ada.sink.last, fran.sink.last), 'Ada uses the leader’s key');
    expect(ada.sink.last).toEqual({ gen: first.gen, step: first.step + 1 });
    const bea = await room.join('bea', 'member');
    await until(() => same(bea.sink.last, fran.sink.last) && same(ada.sink.last, fran.sink.last), 'everyone on one step');
    expect(bea.sink.last).toEqual({ gen: first.gen, step: first.step + 2 });
    // Bea was given only the step she came in at: what was sent before cannot be opened.
    expect(bea.sink.epochs.get(first.gen)).toBe(first.step + 2);
    expect(ada.sink.epochs.get(first.gen)).toBe(first.step + 1);
  });

  it('a departure starts a fresh generation the leaver never receives; older ones are forgotten after a while', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    const ada = await room.join('ada', 'member');
    const bea = await room.join('bea', 'member');
    await until(() => same(ada.sink.last, fran.sink.last) && same(bea.sink.last, fran.sink.last) && !!fran.sink.last, 'all on one key');
    const before = fran.sink.last!;
    const beaGens = () => new Set(bea.sink.epochs.keys());
    room.leave('bea');
    await until(() => fran.sink.last!.gen !== before.gen && same(ada.sink.last, fran.sink.last), 'a new generation in use');
    expect(fran.sink.last!.step).toBe(0);
    expect(beaGens().has(fran.sink.last!.gen)).toBe(false);
    await until(() => ada.sink.forgotten.includes(before.gen), 'the old generation forgotten', 2000);
  });

  it('a page whose connection was away during a rotation is caught up when it is back', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    const ada = await room.join('ada', 'member');
    const bea = await room.join('bea', 'member');
    await until(() => same(ada.sink.last, fran.sink.last) && same(bea.sink.last, fran.sink.last) && !!fran.sink.last, 'all on one key');
    const before = fran.sink.last!;
    room.setAway('ada', true);
    room.leave('bea');
    // The rotation does not wait for Ada, who cannot answer.
    await until(() => fran.sink.last!.gen !== before.gen, 'a new generation without waiting for Ada', 2000);
    expect(ada.sink.last).toEqual(before);
    room.setAway('ada', false);
    await until(() => same(ada.sink.last, fran.sink.last), 'Ada caught up');
    // A resume the leader did not see as a drop: the page says hello again and is caught up too.
    room.leave('fran');
    const fay = await room.join('fay', 'facilitator');
    await until(() => same(ada.sink.last, fay.sink.last), 'Ada on the new leader’s key');
    ada.exchange.resumed();
    room.broadcast();
    await new Promise((r) => setTimeout(r, 100));
    expect(same(ada.sink.last, fay.sink.last)).toBe(true);
  });

  it('a page paused from media during a rotation (re-reading a changed agreement) is caught up when it is let back', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    const ada = await room.join('ada', 'member');
    const bea = await room.join('bea', 'member');
    await until(() => same(ada.sink.last, fran.sink.last) && same(bea.sink.last, fran.sink.last) && !!fran.sink.last, 'all on one key');
    const before = fran.sink.last!;
    room.setPaused('ada', true);
    room.leave('bea');
    await until(() => fran.sink.last!.gen !== before.gen, 'a new generation', 3000);
    expect(ada.sink.last).toEqual(before);
    room.setPaused('ada', false);
    await until(() => same(ada.sink.last, fran.sink.last), 'Ada caught up');
  });

  it('a generation handed out just before an earlier switch’s keys are forgotten is kept, and used when the switch comes', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    const ada = await room.join('ada', 'member');
    const bea = await room.join('bea', 'member');
    await room.join('cara', 'member');
    await room.join('dan', 'member');
    await until(() => !!fran.sink.last && ['ada', 'bea', 'cara', 'dan'].every((id) => same(room.people.get(id)!.sink.last, fran.sink.last)), 'all on one key');
    room.leave('dan');
    // Bea switches now; her older generations go TIMINGS.forgetAfterMs (400 ms) later.
    const first = fran.sink.last!;
    await until(() => fran.sink.last!.gen !== first.gen && same(bea.sink.last, fran.sink.last), 'a new generation');
    const switched = fran.sink.last!;
    // The next generation's keys reach Bea before then, but Ada's acknowledgement is lost, so
    // the switch to it comes only after the wait for it (300 ms): after that forgetting.
    await new Promise((r) => setTimeout(r, 200));
    room.tamper = (from, to, data) => (from === 'ada' && to === 'fran' ? 'x' : data);
    room.leave('cara');
    await until(() => fran.sink.last!.gen !== switched.gen && same(bea.sink.last, fran.sink.last) && same(ada.sink.last, fran.sink.last), 'everyone on the next generation');
  });

  it('a hello whose public key the relay swapped is refused: no key reaches anyone through it', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    await until(() => !!fran.sink.last, 'leader ready');
    // The server puts a key of its own in every hello, to sit in the middle.
    const other = await newEphemeral('X25519');
    room.tamper = (_from, _to, data) => {
      const wire = decodeWire(data);
      return wire?.t === 'hello' ? encodeWire({ ...wire, pub: toBase64url(other.publicRaw) }) : data;
    };
    const ada = await room.join('ada', 'member');
    await new Promise((r) => setTimeout(r, 500));
    expect(ada.sink.used).toEqual([]);
    expect(ada.sink.epochs.size).toBe(0);
  });

  it('a private message opens only at the facilitator it was sealed for', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    const ada = await room.join('ada', 'member');
    await until(() => same(ada.sink.last, fran.sink.last), 'paired');
    const [box] = await ada.exchange.sealMessage('Can we talk after?');
    expect(box?.to).toBe('fran');
    expect(await fran.exchange.openMessage('ada', box!.data)).toBe('Can we talk after?');
    // Not at another browser, nor as if from someone else.
    const bea = await room.join('bea', 'member');
    await until(() => same(bea.sink.last, fran.sink.last), 'Bea paired');
    expect(await bea.exchange.openMessage('ada', box!.data)).toBeNull();
    expect(await fran.exchange.openMessage('bea', box!.data)).toBeNull();
  });

  it('a second facilitator device gets the keys from the leader and takes over when the leader goes', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    const ada = await room.join('ada', 'member');
    const fay = await room.join('fay', 'facilitator');
    await until(() => same(fay.sink.last, fran.sink.last) && same(ada.sink.last, fran.sink.last), 'all on the leader’s key');
    const before = fran.sink.last!;
    room.leave('fran');
    await until(() => !!fay.sink.last && fay.sink.last.gen !== before.gen && same(ada.sink.last, fay.sink.last), 'the new leader’s generation');
  });
});

describe('an aside key', () => {
  const asideOf = (facilitatorId: string, memberId: string): Aside => ({ facilitatorId, memberId, startedAt: Date.now() });
  const inGroup = (people: Person[]) => people.every((p) => same(p.sink.last, people[0]!.sink.last));
  // Generous: these wait on several rounds of the exchange, and a loaded machine is slow.
  const waitFor = (check: () => boolean, what: string) => until(check, what, 8000);
  /** Everyone on one key; that key. */
  const settled = async (people: Person[]) => {
    await waitFor(() => inGroup(people), 'all on one key');
    return people[0]!.sink.last!;
  };
  /** The two send with one key that is not the group's; that key. */
  const onAsideKey = async (facilitator: Person, member: Person, group: KeyRef) => {
    await waitFor(() => !!facilitator.sink.last && facilitator.sink.last.gen !== group.gen && same(member.sink.last, facilitator.sink.last), 'the two on an aside key');
    return facilitator.sink.last!;
  };

  it('the leader and the member it takes aside send with a key of their own the group never gets; back, a fresh group generation', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    const ada = await room.join('ada', 'member');
    const bea = await room.join('bea', 'member');
    const cara = await room.join('cara', 'member');
    const group = await settled([fran, ada, bea, cara]);
    room.setAside(asideOf('fran', 'ada'));
    const aside = await onAsideKey(fran, ada, group);
    expect(aside.step).toBe(0);
    // The safety code is of the aside key: the same at the two pages (shown once worked out).
    const code = (p: Person) => (p.exchange.status.state === 'ready' && p.exchange.status.aside ? p.exchange.status.safetyCode.join(' ') : null);
    await waitFor(() => code(fran) !== null && code(fran) === code(ada), 'the two show one safety code');
    // The group goes on with its key, and never has the aside's.
    expect(same(bea.sink.last, group)).toBe(true);
    expect(bea.sink.epochs.has(aside.gen)).toBe(false);
    expect(cara.sink.epochs.has(aside.gen)).toBe(false);
    // Someone leaves the group meanwhile: the group rotates, the two keep the new generation for
    // later but go on sending with the aside key (the leader's own switch included).
    room.leave('cara');
    await waitFor(() => !!bea.sink.last && bea.sink.last.gen !== group.gen, 'the group on a new generation');
    const during = bea.sink.last!;
    await waitFor(() => fran.sink.epochs.has(during.gen) && ada.sink.epochs.has(during.gen), 'the two hold it');
    await new Promise((r) => setTimeout(r, 100));
    expect(fran.sink.last).toEqual(aside);
    expect(ada.sink.last).toEqual(aside);
    // Never the group's key while aside.
    const sinceAside = (p: Person) => p.sink.used.slice(p.sink.used.findIndex((r) => same(r, aside)));
    expect(sinceAside(fran).every((r) => same(r, aside))).toBe(true);
    expect(sinceAside(ada).every((r) => same(r, aside))).toBe(true);
    // Back: a fresh generation for everyone, and the aside key forgotten.
    room.setAside(null);
    await waitFor(() => inGroup([fran, ada, bea]) && ![group.gen, during.gen, aside.gen].includes(fran.sink.last!.gen), 'everyone on a fresh generation');
    expect(fran.sink.last!.step).toBe(0);
    expect(ada.sink.forgotten).toContain(aside.gen);
    expect(fran.sink.forgotten).toContain(aside.gen);
    expect(fran.exchange.status).not.toHaveProperty('aside');
  }, 30_000);

  it('a facilitator who is not the leader: the leader seals the key to the two and does not use it itself', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    const fay = await room.join('fay', 'facilitator');
    const ada = await room.join('ada', 'member');
    const bea = await room.join('bea', 'member');
    const group = await settled([fran, fay, ada, bea]);
    room.setAside(asideOf('fay', 'ada'));
    const aside = await onAsideKey(fay, ada, group);
    expect(fran.sink.epochs.has(aside.gen)).toBe(false);
    expect(bea.sink.epochs.has(aside.gen)).toBe(false);
    expect(same(fran.sink.last, group) && same(bea.sink.last, group)).toBe(true);
  }, 30_000);

  it('fails closed: aside without the aside key, a page sends nothing, never the group’s key', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    const ada = await room.join('ada', 'member');
    await waitFor(() => inGroup([fran, ada]), 'all on one key');
    // What the leader sends Ada from now on is lost on the way.
    room.tamper = (from, to, data) => (from === 'fran' && to === 'ada' ? 'x' : data);
    room.setAside(asideOf('fran', 'ada'));
    await waitFor(() => ada.sink.last === null, 'Ada holds her frames');
    await new Promise((r) => setTimeout(r, 100));
    expect(ada.sink.last).toBeNull();
    expect(ada.exchange.status.state).toBe('waiting');
  }, 30_000);

  it('a member whose connection was away as the aside started gets the aside key when back, and sends nothing till then', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    const ada = await room.join('ada', 'member');
    const bea = await room.join('bea', 'member');
    await waitFor(() => inGroup([fran, ada, bea]), 'all on one key');
    room.setAway('ada', true);
    room.setAside(asideOf('fran', 'ada'));
    await waitFor(() => fran.sink.last?.gen !== bea.sink.last?.gen, 'the leader on the aside key');
    const aside = fran.sink.last!;
    expect(ada.sink.epochs.has(aside.gen)).toBe(false);
    room.setAway('ada', false);
    await waitFor(() => same(ada.sink.last, aside), 'Ada back, on the aside key');
    // Between the view saying she is aside and the key arriving, she sent nothing.
    expect(ada.sink.used.at(-2)).toBeNull();
    expect(bea.sink.epochs.has(aside.gen)).toBe(false);
  }, 30_000);

  it('a reload of either during the aside: a new aside key for the two (a new page counts from 0), and the group still has none', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    await room.join('ada', 'member');
    const bea = await room.join('bea', 'member');
    await waitFor(() => inGroup([fran, bea]) && !!fran.sink.last, 'all on one key');
    room.setAside(asideOf('fran', 'ada'));
    await waitFor(() => fran.sink.last?.gen !== bea.sink.last?.gen, 'the leader on the aside key');
    const aside = fran.sink.last!;
    const ada = await room.reload('ada');
    await waitFor(() => !!ada.sink.last && same(ada.sink.last, fran.sink.last) && fran.sink.last!.gen !== aside.gen, 'both on a new aside key');
    const renewed = ada.sink.last!;
    expect(renewed.gen).not.toBe(bea.sink.last?.gen);
    expect(bea.sink.epochs.has(renewed.gen)).toBe(false);
    // The facilitator keeps the earlier one for Ada's old page's frames still on their way.
    expect(fran.sink.epochs.has(aside.gen)).toBe(true);
    // The leader's reload: its new page makes a new aside key; Ada sends with it and keeps the earlier one.
    const fran2 = await room.reload('fran');
    await waitFor(() => !!fran2.sink.last && fran2.sink.last.gen !== renewed.gen && same(ada.sink.last, fran2.sink.last), 'both on the new leader’s aside key');
    expect(ada.sink.epochs.has(renewed.gen)).toBe(true);
    expect(bea.sink.epochs.has(fran2.sink.last!.gen)).toBe(false);
  }, 30_000);

  it('a facilitator-link page that is not the leader makes the aside key itself: the leader sends nothing for it and never has it', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    const fay = await room.join('fay', 'facilitator');
    const ada = await room.join('ada', 'member');
    const bea = await room.join('bea', 'member');
    const group = await settled([fran, fay, ada, bea]);
    // From now on whatever the leader sends is noted and lost: the aside must not need the leader.
    const fromLeader: string[] = [];
    room.tamper = (from, to, data) => {
      if (from !== 'fran') return data;
      fromLeader.push(to);
      return 'x';
    };
    room.setAside(asideOf('fay', 'ada'));
    const aside = await onAsideKey(fay, ada, group);
    await new Promise((r) => setTimeout(r, 100));
    expect(fromLeader).toEqual([]);
    expect(fran.sink.epochs.has(aside.gen)).toBe(false);
    expect(bea.sink.epochs.has(aside.gen)).toBe(false);
    expect(same(fran.sink.last, group) && same(bea.sink.last, group)).toBe(true);
    // Ada reloads while the leader is away: the facilitator gives her new page a new key, leader or not.
    room.setAway('fran', true);
    const ada2 = await room.reload('ada');
    await waitFor(() => !!ada2.sink.last && same(ada2.sink.last, fay.sink.last) && fay.sink.last!.gen !== aside.gen, 'a new aside key for the new page');
    expect(ada2.sink.used.every((r) => r === null || !bea.sink.epochs.has(r.gen))).toBe(true);
    expect(fromLeader).toEqual([]);
    // Back with the group: the leader starts a fresh generation, as ever.
    room.tamper = (_f, _t, data) => data;
    room.setAway('fran', false);
    room.setAside(null);
    await waitFor(() => inGroup([fran, fay, ada2, bea]) && fran.sink.last!.gen !== group.gen && fran.sink.last!.step === 0, 'everyone on a fresh generation');
    expect(fran.sink.epochs.has(aside.gen)).toBe(false);
  }, 30_000);

  it('a co-facilitator takes a member aside: the leader seals a key to the two and keeps none; a catch-up or a reload gets both a fresh one', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    const cole = await room.join('cole', 'cofacilitator');
    const ada = await room.join('ada', 'member');
    const bea = await room.join('bea', 'member');
    const group = await settled([fran, cole, ada, bea]);
    room.setAside(asideOf('cole', 'ada'));
    const first = await onAsideKey(cole, ada, group);
    const outside = (gen: number) => !fran.sink.epochs.has(gen) && !bea.sink.epochs.has(gen);
    expect(outside(first.gen)).toBe(true);
    expect(same(fran.sink.last, group) && same(bea.sink.last, group)).toBe(true);
    // Ada's connection drops and comes back: the leader kept nothing to send again, so both get a fresh key.
    room.setAway('ada', true);
    room.setAway('ada', false);
    await waitFor(() => !!ada.sink.last && ![first.gen, group.gen].includes(ada.sink.last.gen) && same(cole.sink.last, ada.sink.last), 'a fresh aside key for both');
    const second = ada.sink.last!;
    expect(outside(second.gen)).toBe(true);
    // Cole reloads: a fresh one again.
    const cole2 = await room.reload('cole');
    await waitFor(() => !!cole2.sink.last && ![first.gen, second.gen, group.gen].includes(cole2.sink.last.gen) && same(ada.sink.last, cole2.sink.last), 'a fresh aside key for the new page');
    expect(outside(cole2.sink.last!.gen)).toBe(true);
    // Never the group's key while aside.
    expect(ada.sink.used.slice(ada.sink.used.findIndex((r) => same(r, first))).every((r) => r === null || !bea.sink.epochs.has(r.gen))).toBe(true);
    room.setAside(null);
    await waitFor(() => inGroup([fran, cole2, ada, bea]) && fran.sink.last!.gen !== group.gen && fran.sink.last!.step === 0, 'everyone on a fresh generation');
    expect(ada.sink.forgotten).toEqual(expect.arrayContaining([first.gen, second.gen]));
  }, 30_000);

  it('the leader leaves during a co-facilitator’s aside: the next leader seals the two a fresh key, which the group never gets', async () => {
    room = new Room();
    const fran = await room.join('fran', 'facilitator');
    const fay = await room.join('fay', 'facilitator');
    const gil = await room.join('gil', 'cofacilitator');
    const ada = await room.join('ada', 'member');
    const bea = await room.join('bea', 'member');
    const group = await settled([fran, fay, gil, ada, bea]);
    room.setAside(asideOf('gil', 'ada'));
    const a1 = await onAsideKey(gil, ada, group);
    room.leave('fran');
    await waitFor(() => gil.sink.last!.gen !== a1.gen && same(ada.sink.last, gil.sink.last), 'the new leader’s aside key');
    const a2 = gil.sink.last!;
    const groupGens = new Set([...bea.sink.epochs.keys(), ...fay.sink.epochs.keys()]);
    expect(groupGens.has(a1.gen) || groupGens.has(a2.gen)).toBe(false);
    const since = (p: Person) => p.sink.used.slice(p.sink.used.findIndex((r) => same(r, a1)));
    expect(since(gil).every((r) => r === null || r.gen === a1.gen || r.gen === a2.gen)).toBe(true);
    expect(since(ada).every((r) => r === null || r.gen === a1.gen || r.gen === a2.gen)).toBe(true);
    room.setAside(null);
    await waitFor(() => inGroup([fay, gil, ada, bea]) && ![group.gen, a1.gen, a2.gen].includes(gil.sink.last!.gen), 'back on one group key');
    expect(ada.sink.forgotten).toEqual(expect.arrayContaining([a1.gen, a2.gen]));
  }, 30_000);
});
