import type { RoomView } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { viewFor } from './projection.js';
import { applyCommand } from './commands.js';
import { toolsRoom } from './tools.test-support.js';
import { viewEventJson, viewJson } from './view-json.js';

/* viewJson must give JSON.stringify's bytes: what a client receives is the contract. */

describe('viewJson', () => {
  it('is JSON.stringify of the view, for a facilitator, a member in the room and one waiting', () => {
    const state = toolsRoom();
    for (const id of ['host', 'co', 'a', 'w']) {
      const view = viewFor(state, id)!;
      // Encoded twice: the second time from the JSON kept for the shared parts.
      for (let i = 0; i < 2; i++) {
        expect(viewJson(view)).toBe(JSON.stringify(view));
        expect(viewEventJson(view, 1234.5)).toBe(JSON.stringify({ view, serverNow: 1234.5 }));
      }
    }
  });

  it('follows the next state: a part that changed is encoded anew, one shared with the last state is kept', () => {
    const state = toolsRoom();
    const before = viewFor(state, 'a')!;
    expect(viewJson(before)).toBe(JSON.stringify(before));
    const next = applyCommand('host', { type: 'floor.setMode', mode: 'hands' })(state);
    const after = viewFor(next, 'a')!;
    expect(after.agreement).toBe(before.agreement); // shared, so its JSON is reused
    expect(after.floor).not.toBe(before.floor);
    expect(viewJson(after)).toBe(JSON.stringify(after));
    expect(JSON.parse(viewJson(after)).floor.mode).toBe('hands');
  });

  it('leaves out what JSON.stringify leaves out, as it does', () => {
    const view = { ...viewFor(toolsRoom(), 'a')!, checkout: undefined } as unknown as RoomView;
    expect(viewJson(view)).toBe(JSON.stringify(view));
    expect(viewJson(view)).not.toContain('"checkout"');
  });

  it('freezes the parts whose JSON it keeps, so they cannot drift from it', () => {
    const view = viewFor(toolsRoom(), 'host')!;
    viewJson(view);
    expect(() => view.members!.pop()).toThrow(TypeError);
    expect(() => (view.facilitation!.everyone[0]!.displayName = 'changed')).toThrow(TypeError);
    expect(() => (view.floor!.mode = 'hands')).toThrow(TypeError);
    // The viewer's own part is not kept, nor frozen: it is new in every view.
    expect(Object.isFrozen(view.self)).toBe(false);
  });
});
