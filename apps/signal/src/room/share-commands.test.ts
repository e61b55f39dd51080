import { describe, expect, it } from 'vitest';
import { leave } from './entry.js';
import { putProducer, removeProducer } from './producers.js';
import { viewFor } from './projection.js';
import { heldBy, maySend, mediaPolicy, screenProducerIds, type RoomState } from './state.js';
import { deepFreeze, expectRefused } from './rules.test-support.js';
import { acknowledge, by, cam, mic, run, screen, toolsRoom } from './tools.test-support.js';

/*
 * Screen sharing: facilitators always, a member only with a grant; withdrawing the grant or
 * stopping a share takes the screen producer out of the state in the same change (the media
 * layer closes what the state no longer holds). One share at a time by default.
 */

const grant = (memberId: string, actor = 'host') => by(actor, { type: 'share.grant', memberId });
const revoke = (memberId: string, actor = 'host') => by(actor, { type: 'share.revoke', memberId });
const stop = (memberId: string, actor = 'host') => by(actor, { type: 'share.stop', memberId });
const ask = (actor: string, asking = true) => by(actor, { type: 'share.ask', asking });
const policy = (maxShares: 1 | 2, allowWholeScreen = false, actor = 'host') => by(actor, { type: 'share.setPolicy', maxShares, allowWholeScreen });
const shares = (state: RoomState) => [...screenProducerIds(state)].sort();

describe('publishing a screen', () => {
  it('is refused to a member without a grant (a modified client), and changes nothing', () => {
    expectRefused(toolsRoom(), putProducer('a', screen('a')), 'FORBIDDEN', /not let you share/);
    expect(maySend(toolsRoom(), 'a', 'screen')).toBe(false);
    expect(viewFor(toolsRoom(), 'a')?.self.share).toEqual({ may: false, asking: false });
  });

  it('is refused to someone waiting, even with a grant on record, and to someone not in the room', () => {
    const state = deepFreeze({ ...toolsRoom(), share: { maxShares: 1 as const, allowWholeScreen: false, granted: ['w'], asking: [] } });
    expectRefused(state, putProducer('w', screen('w')), 'FORBIDDEN');
    expectRefused(state, putProducer('ghost', screen('ghost')), 'NOT_FOUND');
  });

  it('is taken from a facilitator at any time, and from a member once granted', () => {
    const state = run(toolsRoom(), putProducer('co', screen('co')));
    expect(shares(state)).toEqual(['co-screen-1']);
    const granted = run(toolsRoom(), grant('a'), putProducer('a', screen('a')));
    expect(shares(granted)).toEqual(['a-screen-1']);
    expect(mediaPolicy(granted).send.screen.has('a')).toBe(true);
    expect(viewFor(granted, 'b')?.members?.find((m) => m.id === 'a')?.sending).toEqual({ mic: false, camera: false, screen: true });
    expect(viewFor(granted, 'a')?.self.share).toEqual({ may: true, asking: false });
  });

  it('a camera held by a facilitator does not touch the grant or the share, and a grant does not lift the hold', () => {
    const state = run(
      toolsRoom(),
      putProducer('a', mic('a')),
      putProducer('a', cam('a')),
      by('host', { type: 'member.mute', memberId: 'a', source: 'camera' }),
      grant('a'),
      putProducer('a', screen('a')),
    );
    expect(maySend(state, 'a', 'screen')).toBe(true);
    expect(maySend(state, 'a', 'camera')).toBe(false);
    expect(heldBy(state, state.members['a']!, 'screen')).toBeNull();
    const revoked = revoke('a')(state);
    expect(maySend(revoked, 'a', 'camera')).toBe(false);
    expect(maySend(revoked, 'a', 'mic')).toBe(true);
  });

  it('leaves talk time and turn-taking alone: the floor is what it was', () => {
    const hands = run(toolsRoom(), by('host', { type: 'floor.setMode', mode: 'hands' }), by('a', { type: 'hand.raise' }));
    const sharing = run(hands, grant('b'), putProducer('b', screen('b')));
    expect(sharing.floor).toEqual(hands.floor);
    expect(maySend(sharing, 'b', 'mic')).toBe(false);
    expect(maySend(sharing, 'b', 'screen')).toBe(true);
  });
});

describe('share.ask', () => {
  it('a member asks and takes it back; facilitators see it', () => {
    const asked = ask('a')(toolsRoom());
    expect(asked.share?.asking).toEqual(['a']);
    expect(viewFor(asked, 'a')?.self.share).toEqual({ may: false, asking: true });
    expect(viewFor(asked, 'co')?.facilitation?.everyone.find((m) => m.id === 'a')?.share).toEqual({ granted: false, asking: true });
    expect(JSON.stringify(viewFor(asked, 'b'))).not.toContain('asking":true');
    expect(ask('a', false)(asked).share?.asking).toEqual([]);
  });

  it('asking twice, taking back an ask never made, and asking while granted change nothing', () => {
    const asked = deepFreeze(ask('a')(toolsRoom()));
    expect(ask('a')(asked)).toBe(asked);
    expect(ask('b', false)(asked)).toBe(asked);
    const granted = deepFreeze(grant('b')(asked));
    expect(ask('b')(granted)).toBe(granted);
  });

  it('is for members in the room: not facilitators, not someone waiting', () => {
    expectRefused(toolsRoom(), ask('co'), 'FORBIDDEN');
    expectRefused(toolsRoom(), ask('w'), 'FORBIDDEN');
  });
});

describe('share.grant', () => {
  it('grants and answers the ask', () => {
    const state = run(toolsRoom(), ask('a'), grant('a', 'co'));
    expect(state.share).toMatchObject({ granted: ['a'], asking: [] });
    expect(viewFor(state, 'host')?.facilitation?.everyone.find((m) => m.id === 'a')?.share).toEqual({ granted: true, asking: false });
    const again = deepFreeze(state);
    expect(grant('a')(again)).toBe(again);
  });

  it('is refused for a facilitator (they need none), someone waiting, nobody, and by a member', () => {
    expectRefused(toolsRoom(), grant('co'), 'INVALID_STATE', /always share/);
    expectRefused(toolsRoom(), grant('lead'), 'INVALID_STATE');
    expectRefused(toolsRoom(), grant('w'), 'INVALID_STATE');
    expectRefused(toolsRoom(), grant('ghost'), 'NOT_FOUND');
    expectRefused(toolsRoom(), grant('b', 'a'), 'FORBIDDEN');
    // Facilitators' own rows say granted: true (they need no grant).
    expect(viewFor(toolsRoom(), 'host')?.facilitation?.everyone.find((m) => m.id === 'co')?.share).toEqual({ granted: true, asking: false });
  });
});

describe('share.revoke', () => {
  it('withdraws the grant and closes the member’s share in the same change', () => {
    const sharing = deepFreeze(run(toolsRoom(), grant('a'), putProducer('a', mic('a')), putProducer('a', screen('a'))));
    const state = revoke('a', 'co')(sharing);
    expect(state.share?.granted).toEqual([]);
    expect(Object.keys(state.members['a']!.producers)).toEqual(['a-mic']);
    expect(mediaPolicy(state).shares.size).toBe(0);
    expect(mediaPolicy(state).send.screen.has('a')).toBe(false);
    expect(viewFor(state, 'a')?.self.share).toEqual({ may: false, asking: false });
    // And a new one is refused.
    expectRefused(state, putProducer('a', screen('a', 2)), 'FORBIDDEN');
  });

  it('declines an ask', () => {
    expect(run(toolsRoom(), ask('a'), revoke('a')).share?.asking).toEqual([]);
  });

  it('is refused for a facilitator (stop their share instead) and by a member', () => {
    expectRefused(toolsRoom(), revoke('co'), 'INVALID_STATE');
    expectRefused(run(toolsRoom(), grant('b')), revoke('b', 'a'), 'FORBIDDEN');
  });
});

describe('share.stop', () => {
  it('closes the share, the grant stays', () => {
    const state = run(toolsRoom(), grant('a'), putProducer('a', screen('a')), stop('a'));
    expect(shares(state)).toEqual([]);
    expect(state.share?.granted).toEqual(['a']);
    expect(shares(putProducer('a', screen('a', 2))(state))).toEqual(['a-screen-2']);
  });

  it('stops a facilitator’s share, but nobody stops the owner’s', () => {
    const state = run(toolsRoom(), putProducer('lead', screen('lead')));
    expect(shares(stop('lead', 'co')(state))).toEqual([]);
    expectRefused(run(toolsRoom(), putProducer('host', screen('host'))), stop('host', 'co'), 'FORBIDDEN', /created the session/);
  });

  it('with no share is no change', () => {
    const state = toolsRoom();
    expect(stop('a')(state)).toBe(state);
  });
});

describe('one share at a time', () => {
  const memberSharing = () => deepFreeze(run(toolsRoom(), grant('a'), grant('b'), putProducer('a', screen('a'))));

  it('a member’s share is refused while another is on', () => {
    expectRefused(memberSharing(), putProducer('b', screen('b')), 'INVALID_STATE', /Someone else is sharing/);
    expectRefused(run(toolsRoom(), grant('b'), putProducer('co', screen('co'))), putProducer('b', screen('b')), 'INVALID_STATE');
  });

  it('a facilitator’s replaces a member’s, in the same change', () => {
    const state = putProducer('co', screen('co'))(memberSharing());
    expect(shares(state)).toEqual(['co-screen-1']);
    expect(state.share?.granted).toEqual(['a', 'b']); // the grant stays
  });

  it('a facilitator’s replaces another facilitator’s', () => {
    expect(shares(run(toolsRoom(), putProducer('lead', screen('lead')), putProducer('co', screen('co'))))).toEqual(['co-screen-1']);
  });

  it('one share per person: a second is refused (the media layer refuses it first), the first stays', () => {
    expectRefused(memberSharing(), putProducer('a', screen('a', 2)), 'INVALID_STATE', /sharing already/);
    expectRefused(run(toolsRoom(), policy(2), putProducer('co', screen('co'))), putProducer('co', screen('co', 2)), 'INVALID_STATE', /sharing already/);
  });

  it('nobody’s share replaces the owner’s: a co-facilitator’s is refused while only the owner’s could make room', () => {
    const owner = deepFreeze(run(toolsRoom(), putProducer('host', screen('host'))));
    expectRefused(owner, putProducer('co', screen('co')), 'INVALID_STATE', /creator is sharing/);
    expectRefused(owner, putProducer('lead', screen('lead')), 'INVALID_STATE', /creator is sharing/);
    // With two allowed and full, another's share makes the room instead.
    const withLead = run(owner, policy(2), putProducer('lead', screen('lead')));
    expect(shares(putProducer('co', screen('co'))(withLead))).toEqual(['co-screen-1', 'host-screen-1']);
    const withMember = run(owner, policy(2), grant('a'), putProducer('a', screen('a')));
    expect(shares(putProducer('co', screen('co'))(withMember))).toEqual(['co-screen-1', 'host-screen-1']);
    // The owner's own share replaces anyone's.
    expect(shares(putProducer('host', screen('host'))(run(toolsRoom(), putProducer('co', screen('co')))))).toEqual(['host-screen-1']);
  });

  it('allowing two: two at once; full, a facilitator’s replaces the member’s first, then the earliest facilitator’s', () => {
    const two = run(memberSharing(), policy(2, true), putProducer('b', screen('b')));
    expect(shares(two)).toEqual(['a-screen-1', 'b-screen-1']);
    expect(viewFor(two, 'c')?.share).toEqual({ maxShares: 2, allowWholeScreen: true });
    expectRefused(two, putProducer('c', screen('c')), 'FORBIDDEN'); // no grant
    const withFacilitator = putProducer('co', screen('co'))(two);
    expect(shares(withFacilitator)).toEqual(['b-screen-1', 'co-screen-1']); // a's was the earliest member's
    const facilitators = run(withFacilitator, putProducer('lead', screen('lead')));
    expect(shares(facilitators)).toEqual(['co-screen-1', 'lead-screen-1']);
    expect(shares(putProducer('host', screen('host'))(facilitators))).toEqual(['host-screen-1', 'lead-screen-1']);
  });

  it('full, a facilitator’s replaces a member’s even when another facilitator’s started earlier', () => {
    const state = run(toolsRoom(), policy(2), putProducer('lead', screen('lead')), grant('a'), putProducer('a', screen('a')), putProducer('co', screen('co')));
    expect(shares(state)).toEqual(['co-screen-1', 'lead-screen-1']);
  });

  it('back to one: the latest facilitator’s share stays, else the latest', () => {
    const two = run(memberSharing(), policy(2), putProducer('co', screen('co')));
    expect(shares(policy(1)(two))).toEqual(['co-screen-1']);
    const members = run(memberSharing(), policy(2), putProducer('b', screen('b')));
    expect(shares(policy(1)(members))).toEqual(['b-screen-1']);
    const facilitators = run(toolsRoom(), policy(2), putProducer('lead', screen('lead')), putProducer('co', screen('co')));
    expect(shares(policy(1)(facilitators))).toEqual(['co-screen-1']);
  });

  it('back to one, by anyone: the owner’s share stays, even when a facilitator’s is later', () => {
    const two = deepFreeze(run(toolsRoom(), policy(2), putProducer('host', screen('host')), putProducer('co', screen('co'))));
    expect(shares(policy(1, false, 'co')(two))).toEqual(['host-screen-1']);
    expect(shares(policy(1, false, 'lead')(two))).toEqual(['host-screen-1']);
    const member = run(toolsRoom(), policy(2), putProducer('host', screen('host')), grant('a'), putProducer('a', screen('a')));
    expect(shares(policy(1, false, 'co')(member))).toEqual(['host-screen-1']);
  });

  it('a share closed by its sharer frees the place', () => {
    const state = run(memberSharing(), removeProducer('a', 'a-screen-1'), putProducer('b', screen('b')));
    expect(shares(state)).toEqual(['b-screen-1']);
  });
});

describe('roles and leaving', () => {
  it('a member made co-facilitator needs no grant: off the lists, and may share', () => {
    const state = run(toolsRoom(), grant('a'), ask('b'), by('host', { type: 'member.setRole', memberId: 'a', role: 'cofacilitator' }), by('host', { type: 'member.setRole', memberId: 'b', role: 'cofacilitator' }));
    expect(state.share).toMatchObject({ granted: [], asking: [] });
    expect(maySend(state, 'a', 'screen')).toBe(true);
  });

  it('a co-facilitator made a member again loses their share (a grant is needed again)', () => {
    const state = run(toolsRoom(), putProducer('co', screen('co')), by('host', { type: 'member.setRole', memberId: 'co', role: 'member' }));
    expect(shares(state)).toEqual([]);
    expect(maySend(state, 'co', 'screen')).toBe(false);
  });

  it('someone leaving takes their grant, ask and share with them', () => {
    const state = run(toolsRoom(), grant('a'), putProducer('a', screen('a')), ask('b'), leave('a', 400_000), leave('b', 400_000));
    expect(state.share).toMatchObject({ granted: [], asking: [] });
    expect(shares(state)).toEqual([]);
  });

  it('a member sent back to a changed agreement keeps the grant but sends no screen until they acknowledge', () => {
    const state = run(toolsRoom(), grant('a'), by('host', { type: 'agreement.set', text: 'Be very kind.' }));
    expect(state.share?.granted).toEqual(['a']);
    expect(maySend(state, 'a', 'screen')).toBe(false);
    expectRefused(state, putProducer('a', screen('a')), 'FORBIDDEN');
    expect(maySend(acknowledge('a')(state), 'a', 'screen')).toBe(true);
  });
});

describe('share.setPolicy', () => {
  it('sets the policy everyone in the room sees (whole screens are checked in the sharers’ browsers)', () => {
    const state = policy(1, true, 'co')(toolsRoom());
    expect(viewFor(state, 'a')?.share).toEqual({ maxShares: 1, allowWholeScreen: true });
    expect(viewFor(state, 'w')?.share).toBeUndefined();
    const same = deepFreeze(state);
    expect(policy(1, true)(same)).toBe(same);
    expectRefused(toolsRoom(), policy(2, false, 'a'), 'FORBIDDEN');
  });
});
