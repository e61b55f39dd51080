import { describe, expect, it } from 'vitest';
import { freezeDeep } from './frozen.js';

describe('freezeDeep', () => {
  it('freezes everything the value reaches', () => {
    const value = { a: { b: [1, { c: 2 }] }, d: null, e: 'x' };
    expect(freezeDeep(value)).toBe(value);
    expect(Object.isFrozen(value)).toBe(true);
    expect(Object.isFrozen(value.a)).toBe(true);
    expect(Object.isFrozen(value.a.b)).toBe(true);
    expect(Object.isFrozen(value.a.b[1])).toBe(true);
    expect(() => ((value.a.b[1] as { c: number }).c = 3)).toThrow(TypeError);
  });

  it('freezes a new value that shares parts frozen before, new parts and all', () => {
    const old = freezeDeep({ kept: { n: 1 }, changed: { n: 1 } });
    const next = freezeDeep({ ...old, changed: { n: 2 }, added: [{ n: 3 }] });
    expect(next.kept).toBe(old.kept);
    expect(Object.isFrozen(next.changed)).toBe(true);
    expect(Object.isFrozen(next.added[0])).toBe(true);
  });

  it('passes values that are not objects through', () => {
    expect(freezeDeep(null)).toBeNull();
    expect(freezeDeep(3)).toBe(3);
    expect(freezeDeep('s')).toBe('s');
  });
});
