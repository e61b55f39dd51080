import { events, requests, RoomView, type Command, type ProducerView, type Role } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { applyCommand } from './commands.js';
import { enter, leave } from './entry.js';
import { putProducer } from './producers.js';
import { viewFor } from './projection.js';
import { newRoom, type RoomChange, type RoomState } from './state.js';

/*
 * What each person is sent. Names are distinctive strings, so "no other person's name
 * anywhere in the view" can be checked on the JSON that goes over the wire.
 */

const T = 50_000;
const NAMES: Record<string, string> = {
  host: 'Harriet Host',
  co: 'Conrad Cofacil',
  a: 'Agnes Admitted',
  b: 'Bruno Admitted',
  w: 'Wanda Waiting',
  g: 'Gustav Agreement',
  s: 'Selma Stale',
};
const INVITES: Record<string, string> = { co: 'inv-co-1', a: 'inv-a-2', b: 'inv-b-3', w: 'inv-w-4', g: 'inv-g-5', s: 'inv-s-6' };

const run = (state: RoomState, ...changes: RoomChange[]): RoomState => changes.reduce((s, change) => change(s), state);
const arrive = (id: string, role: Role = 'member', at = T): RoomChange => enter({ id, displayName: NAMES[id]!, role, inviteId: INVITES[id] ?? null }, at);
const by = (actor: string, command: Command): RoomChange => applyCommand(actor, command, T);
const acknowledge =
  (id: string): RoomChange =>
  (state) =>
    by(id, { type: 'agreement.acknowledge', version: state.agreement.version, privateSpace: true })(state);
const admit = (id: string): RoomChange => by('host', { type: 'member.admit', memberId: id });

const mic: ProducerView = { id: 'producer-mic-a', kind: 'audio', source: 'mic', paused: false };
const cam: ProducerView = { id: 'producer-cam-a', kind: 'video', source: 'camera', paused: true };

/**
 * host (facilitator) and co (cofacilitator); a and b admitted (a with a mic and camera);
 * w waiting; g at the agreement. Entry times are out of id order to check the ordering.
 */
function room(): RoomState {
  const start = newRoom({ id: 'projection-room-1', capacity: 16, title: 'Thursday circle', agreement: 'Be kind.', startsAt: 1_000, durationMinutes: 60 }, 0);
  return run(
    start,
    arrive('host', 'facilitator', 10),
    arrive('b', 'member', 40),
    arrive('co', 'member', 20),
    arrive('a', 'member', 30),
    arrive('w', 'member', 50),
    arrive('g', 'member', 60),
    ...['co', 'a', 'b', 'w'].map(acknowledge),
    ...['co', 'a', 'b'].map(admit),
    by('host', { type: 'member.setRole', memberId: 'co', role: 'cofacilitator' }),
    putProducer('a', mic),
    putProducer('a', cam),
  );
}

const json = (view: RoomView | null) => JSON.stringify(view);
const othersThan = (id: string) => Object.entries(NAMES).filter(([other]) => other !== id);

function expectNoOtherNames(view: RoomView | null, viewerId: string): void {
  const text = json(view);
  for (const [other, name] of othersThan(viewerId)) {
    expect(text, `${viewerId} sees ${other}`).not.toContain(name);
    expect(text, `${viewerId} sees ${other}'s id`).not.toContain(`"${other}"`);
  }
}

describe('viewFor', () => {
  it('is null for someone not in the room', () => {
    expect(viewFor(room(), 'nobody')).toBeNull();
    expect(viewFor(leave('a')(room()), 'a')).toBeNull();
  });

  it('gives everyone the room frame and themselves', () => {
    const state = room();
    for (const id of Object.keys(state.members)) {
      const view = viewFor(state, id)!;
      expect(view).toMatchObject({
        roomId: 'projection-room-1',
        title: 'Thursday circle',
        session: { startsAt: 1_000, endsAt: 1_000 + 3_600_000, warnMinutes: 5 },
        agreement: state.agreement,
        locked: false,
      });
      expect(view.self).toMatchObject({ id, displayName: NAMES[id], role: state.members[id]!.role, stage: state.members[id]!.stage });
      // Their own invite link's id (a facilitator link has none).
      expect(view.self.inviteId).toBe(INVITES[id] ?? null);
    }
  });

  describe('someone at the agreement', () => {
    it('gets no members, no facilitation and nobody else’s name or id', () => {
      const view = viewFor(room(), 'g')!;
      expect(view.members).toBeUndefined();
      expect(view.facilitation).toBeUndefined();
      expect(view.self).toEqual({
        id: 'g',
        displayName: NAMES['g'],
        role: 'member',
        stage: 'agreement',
        inviteId: INVITES['g'],
        mustAcknowledge: true,
        media: false,
        held: { mic: null, camera: null },
        asked: [],
        share: { may: false, asking: false },
        checkedOut: false,
      });
      expect(view.floor).toBeUndefined();
      expectNoOtherNames(view, 'g');
    });
  });

  describe('someone waiting', () => {
    it('gets no members, no facilitation and nobody else’s name or id', () => {
      const view = viewFor(room(), 'w')!;
      expect(view.members).toBeUndefined();
      expect(view.facilitation).toBeUndefined();
      expect(view.self).toEqual({
        id: 'w',
        displayName: NAMES['w'],
        role: 'member',
        stage: 'waiting',
        inviteId: INVITES['w'],
        mustAcknowledge: false,
        media: false,
        held: { mic: null, camera: null },
        asked: [],
        share: { may: false, asking: false },
        checkedOut: false,
      });
      expect(view.floor).toBeUndefined();
      expectNoOtherNames(view, 'w');
    });
  });

  describe('an admitted member who has not acknowledged a changed agreement', () => {
    it('gets no members either, until they acknowledge', () => {
      const changed = by('host', { type: 'agreement.set', text: 'Be very kind.' })(room());
      const view = viewFor(changed, 'a')!;
      expect(view.self).toMatchObject({ stage: 'admitted', mustAcknowledge: true, media: false });
      expect(view.members).toBeUndefined();
      expect(view.facilitation).toBeUndefined();
      expectNoOtherNames(view, 'a');
      expect(viewFor(acknowledge('a')(changed), 'a')?.members).toBeDefined();
    });
  });

  describe('an admitted member', () => {
    const view = () => viewFor(room(), 'b')!;

    it('gets the admitted people, themselves included, in entry order, with their producers', () => {
      expect(view().members).toEqual([
        { id: 'host', displayName: NAMES['host'], role: 'facilitator', connection: 'online', producers: [], sending: { mic: false, camera: false, screen: false } },
        { id: 'co', displayName: NAMES['co'], role: 'cofacilitator', connection: 'online', producers: [], sending: { mic: false, camera: false, screen: false } },
        // a's microphone is on at her end and not held; her camera is paused by her.
        { id: 'a', displayName: NAMES['a'], role: 'member', connection: 'online', producers: [mic, cam], sending: { mic: true, camera: false, screen: false } },
        { id: 'b', displayName: NAMES['b'], role: 'member', connection: 'online', producers: [], sending: { mic: false, camera: false, screen: false } },
      ]);
      expect(view().self).toMatchObject({ stage: 'admitted', mustAcknowledge: false, media: true });
    });

    it('gets no facilitation, and nothing of the people still on their way in', () => {
      expect(view().facilitation).toBeUndefined();
      const text = json(view());
      for (const id of ['w', 'g']) {
        expect(text).not.toContain(NAMES[id]);
        expect(text).not.toContain(`"${id}"`);
      }
    });

    it('gets no invite ids (but their own), acknowledgements or stages of others', () => {
      const text = json(view());
      expect(view().self.inviteId).toBe(INVITES['b']);
      for (const [id, invite] of Object.entries(INVITES)) if (id !== 'b') expect(text).not.toContain(invite);
      expect(text).not.toContain('acknowledgedVersion');
      expect(text).not.toContain('enteredAt');
      expect(text).not.toContain('"at":');
    });

    it('no longer lists someone who left or was removed', () => {
      const state = run(room(), leave('a'), by('host', { type: 'member.remove', memberId: 'co', block: false }));
      expect(viewFor(state, 'b')?.members?.map((m) => m.id)).toEqual(['host', 'b']);
      expect(json(viewFor(state, 'b'))).not.toContain(NAMES['a']);
    });
  });

  describe.each(['host', 'co'])('a facilitator (%s)', (viewer) => {
    it('gets the facilitation block with everyone, wherever they are, in entry order', () => {
      const state = room();
      const view = viewFor(state, viewer)!;
      expect(view.facilitation?.autoAdmit).toBe(false);
      expect(view.facilitation?.everyone.map((m) => [m.id, m.stage])).toEqual([
        ['host', 'admitted'],
        ['co', 'admitted'],
        ['a', 'admitted'],
        ['b', 'admitted'],
        ['w', 'waiting'],
        ['g', 'agreement'],
      ]);
      expect(view.facilitation?.everyone.find((m) => m.id === 'g')).toEqual({
        id: 'g',
        displayName: NAMES['g'],
        role: 'member',
        connection: 'online',
        producers: [],
        sending: { mic: false, camera: false, screen: false },
        stage: 'agreement',
        acknowledgedVersion: null,
        enteredAt: 60,
        inviteId: INVITES['g'],
        heldOff: [],
        asked: [],
        share: { granted: false, asking: false },
        owner: false,
      });
      expect(view.facilitation?.acknowledgements).toEqual(state.acknowledgements);
      expect(view.facilitation?.acknowledgements.map((a) => a.memberId)).toEqual(['co', 'a', 'b', 'w']);
    });

    it('gets the same members list as an admitted member', () => {
      const state = room();
      expect(viewFor(state, viewer)?.members).toEqual(viewFor(state, 'b')?.members);
    });

    it('sees auto-admit and lock', () => {
      const state = run(room(), by('host', { type: 'room.setAutoAdmit', enabled: true }), by('host', { type: 'room.setLocked', locked: true }));
      const view = viewFor(state, viewer)!;
      expect(view.facilitation?.autoAdmit).toBe(true);
      expect(view.locked).toBe(true);
    });

    it('keeps the acknowledgements of people who left, but not the people', () => {
      const state = leave('w')(room());
      const view = viewFor(state, viewer)!;
      expect(view.facilitation?.everyone.map((m) => m.id)).not.toContain('w');
      expect(view.facilitation?.acknowledgements.map((a) => a.memberId)).toContain('w');
    });

    it('gets everyone\'s invite id (to check their key handshake), in the facilitation block only', () => {
      const view = viewFor(room(), viewer)!;
      const { s: _absent, ...present } = INVITES;
      expect(Object.fromEntries(view.facilitation!.everyone.map((m) => [m.id, m.inviteId]))).toEqual({ host: null, ...present });
      expect(json({ ...view, facilitation: undefined, self: { ...view.self, inviteId: null } })).not.toMatch(/inv-/);
    });
  });

  it('loses the facilitation block when demoted', () => {
    const state = by('host', { type: 'member.setRole', memberId: 'co', role: 'member' })(room());
    expect(viewFor(state, 'co')?.facilitation).toBeUndefined();
    expect(viewFor(state, 'co')?.members).toBeDefined();
  });

  it('does not mutate the state', () => {
    const state = room();
    const before = structuredClone(state);
    for (const id of Object.keys(state.members)) viewFor(state, id);
    expect(state).toEqual(before);
  });
});

describe('turn-taking and holds in views', () => {
  const inHands = () => run(room(), by('host', { type: 'floor.setMode', mode: 'hands' }), by('b', { type: 'hand.raise' }));

  it('the floor goes to everyone in the room, and to nobody on the way in', () => {
    const state = inHands();
    for (const id of ['host', 'co', 'a', 'b']) expect(viewFor(state, id)?.floor, id).toEqual(state.floor);
    for (const id of ['w', 'g']) expect(viewFor(state, id)?.floor, id).toBeUndefined();
    const changed = by('host', { type: 'agreement.set', text: 'Be very kind.' })(state);
    expect(viewFor(changed, 'b')?.floor).toBeUndefined(); // b has not acknowledged the new text: no ids
    expect(json(viewFor(changed, 'b'))).not.toContain('"a"');
  });

  it('a member is told the floor holds their microphone, and others that it does not reach them', () => {
    const state = inHands();
    expect(viewFor(state, 'a')?.self.held).toEqual({ mic: 'floor', camera: null });
    expect(viewFor(state, 'host')?.self.held).toEqual({ mic: null, camera: null });
    expect(viewFor(state, 'b')?.members?.find((m) => m.id === 'a')?.sending).toEqual({ mic: false, camera: false, screen: false });
    const granted = by('host', { type: 'floor.grant', memberId: 'a' })(state);
    expect(viewFor(granted, 'a')?.self.held).toEqual({ mic: null, camera: null });
    expect(viewFor(granted, 'b')?.members?.find((m) => m.id === 'a')?.sending).toEqual({ mic: true, camera: false, screen: false });
  });

  it('holds and asks are shown to the member and to facilitators, never to other members', () => {
    const state = run(room(), by('host', { type: 'member.mute', memberId: 'a', source: 'camera' }), by('co', { type: 'member.ask', memberId: 'a', source: 'camera' }));
    expect(viewFor(state, 'a')?.self).toMatchObject({ held: { mic: null, camera: 'facilitator' }, asked: ['camera'] });
    expect(viewFor(state, 'co')?.facilitation?.everyone.find((m) => m.id === 'a')).toMatchObject({ heldOff: ['camera'], asked: ['camera'] });
    const other = json(viewFor(state, 'b'));
    expect(other).not.toContain('heldOff');
    expect(other).not.toContain('"camera"]');
  });
});

describe('where people come from', () => {
  it('is never in a view: the key standing for an address stays in the room state', () => {
    const keyed = (id: string, key: string): RoomChange => enter({ id, displayName: `Person ${id}`, role: 'member', inviteId: `inv-${id}`, addressKey: key }, T);
    const state = run(room(), keyed('k1', 'ADDRESS-KEY-AT-AGREEMENT'), keyed('k2', 'ADDRESS-KEY-WAITING'), acknowledge('k2'), by('host', { type: 'lobby.clear', waiting: false }));
    expect(state.members['k2']!.addressKey).toBe('ADDRESS-KEY-WAITING');
    const withReader = keyed('k3', 'ADDRESS-KEY-AT-AGREEMENT')(state);
    for (const id of Object.keys(withReader.members)) {
      const text = json(viewFor(withReader, id));
      expect(text, `${id}'s view`).not.toContain('ADDRESS-KEY');
      // Nor who a clear let go of.
      expect(text, `${id}'s view`).not.toContain('"k1"');
    }
  });
});

describe('views on the wire', () => {
  it('every view parses as a RoomView, unchanged (no extra fields), and as the events that carry it', () => {
    const states = [
      room(),
      by('host', { type: 'agreement.set', text: 'Be very kind.' })(room()),
      run(room(), by('host', { type: 'room.setLocked', locked: true }), by('host', { type: 'room.setAutoAdmit', enabled: true })),
      run(room(), by('host', { type: 'round.start', order: null, turnSeconds: 60, onTimeout: 'pass' }), by('host', { type: 'member.mute', memberId: 'b', source: 'mic' }), by('host', { type: 'member.ask', memberId: 'b', source: 'mic' })),
    ];
    let checked = 0;
    for (const state of states) {
      for (const id of Object.keys(state.members)) {
        const view = viewFor(state, id)!;
        const wire = JSON.parse(JSON.stringify(view)) as unknown;
        expect(RoomView.parse(wire)).toEqual(view);
        expect(RoomView.strict().safeParse(wire).success).toBe(true);
        expect(events['room:view'].parse({ view: wire, serverNow: 1 })).toEqual({ view, serverNow: 1 });
        const resume = { credential: 'c'.repeat(16), memberId: id, graceSeconds: 120 };
        expect(requests['room:enter'].response.parse({ view: wire, resume })).toEqual({ view, resume });
        checked++;
      }
    }
    expect(checked).toBe(24);
  });
});
