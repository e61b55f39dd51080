import { describe, expect, it } from 'vitest';
import { TalkTime } from './talk-time.js';

describe('TalkTime', () => {
  it('adds up each interval a member was heard, and when they were last heard', () => {
    const talk = new TalkTime();
    talk.heard(['a'], 250, 1_000);
    talk.heard(['a', 'b'], 250, 1_250);
    talk.heard(['a'], 250, 1_500);
    expect(talk.snapshot(['a', 'b'])).toEqual([
      { memberId: 'a', speakingMs: 750, lastSpokeAt: 1_500 },
      { memberId: 'b', speakingMs: 250, lastSpokeAt: 1_250 },
    ]);
  });

  it('counts someone once per report, even if listed twice (two producers)', () => {
    const talk = new TalkTime();
    talk.heard(['a', 'a', 'b'], 250, 10);
    talk.heard(new Set(['a']), 100, 20);
    expect(talk.snapshot(['a', 'b'])).toEqual([
      { memberId: 'a', speakingMs: 350, lastSpokeAt: 20 },
      { memberId: 'b', speakingMs: 250, lastSpokeAt: 10 },
    ]);
  });

  it('lists everyone asked about, in the order given, with zero and null for those not heard', () => {
    const talk = new TalkTime();
    talk.heard(['b'], 250, 5);
    expect(talk.snapshot(['c', 'b', 'a'])).toEqual([
      { memberId: 'c', speakingMs: 0, lastSpokeAt: null },
      { memberId: 'b', speakingMs: 250, lastSpokeAt: 5 },
      { memberId: 'a', speakingMs: 0, lastSpokeAt: null },
    ]);
    expect(talk.snapshot([])).toEqual([]);
  });

  it('leaves out people not asked about (e.g. facilitators)', () => {
    const talk = new TalkTime();
    talk.heard(['host', 'a'], 250, 5);
    expect(talk.snapshot(['a']).map((e) => e.memberId)).toEqual(['a']);
  });

  it('an empty report changes nothing', () => {
    const talk = new TalkTime();
    talk.heard(['a'], 250, 5);
    talk.heard([], 250, 10);
    expect(talk.snapshot(['a'])).toEqual([{ memberId: 'a', speakingMs: 250, lastSpokeAt: 5 }]);
  });

  it('forgets someone who left: coming back, they start from zero', () => {
    const talk = new TalkTime();
    talk.heard(['a', 'b'], 250, 5);
    talk.forget('a');
    talk.forget('nobody');
    expect(talk.snapshot(['a', 'b'])).toEqual([
      { memberId: 'a', speakingMs: 0, lastSpokeAt: null },
      { memberId: 'b', speakingMs: 250, lastSpokeAt: 5 },
    ]);
    talk.heard(['a'], 250, 9);
    expect(talk.snapshot(['a'])).toEqual([{ memberId: 'a', speakingMs: 250, lastSpokeAt: 9 }]);
  });

  it('gives snapshots that later reports do not change', () => {
    const talk = new TalkTime();
    talk.heard(['a'], 250, 5);
    const first = talk.snapshot(['a']);
    talk.heard(['a'], 250, 10);
    expect(first).toEqual([{ memberId: 'a', speakingMs: 250, lastSpokeAt: 5 }]);
  });
});
