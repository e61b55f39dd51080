import { CHECKOUT_WORDS_MAX, type RoomView, type SealedFor } from '@group-room/shared';
import { describe, expect, it, vi } from 'vitest';
import { CheckoutTools, type CheckoutHost } from './checkout-client';
import { memoryStorage } from './memory-storage.test-support';
import type { SignalClient } from './signal-client';
import { facilitatorView } from './checkout-view.test-support';

// Saving makes a file in the browser: here, only that it was asked for.
vi.mock('./save-file', () => ({ saveFile: vi.fn() }));

/** A stand-in for the room's encryption: "sealed" boxes are `for:<to>:<text>`, opened only by `to`. */
function host(view: RoomView | undefined, self = 'ada', facilitators = ['ada', 'fay']) {
  const sent: { name: string; payload: unknown }[] = [];
  const signal = {
    request: (name: string, payload: unknown) => {
      sent.push({ name, payload });
      return Promise.resolve({});
    },
  } as unknown as SignalClient;
  const current = { view };
  const h: CheckoutHost = {
    roomId: 'room-a',
    signal: () => signal,
    view: () => current.view,
    seal: (text) => Promise.resolve(facilitators.map((to): SealedFor => ({ to, data: `for:${to}:${text}` }))),
    open: (_from, sealed) => Promise.resolve(sealed.startsWith(`for:${self}:`) ? sealed.slice(`for:${self}:`.length) : null),
  };
  return { h, sent, current };
}

const memberView = (open: boolean): RoomView => {
  const view = facilitatorView(open ? { id: 'co-1', startedAt: 5 } : null);
  const { facilitation: _, ...rest } = view;
  return { ...rest, self: { ...view.self, id: 'bea', displayName: 'Bea', role: 'member' } };
};

describe('a member answering the check-out', () => {
  it('seals the answer for each facilitator and sends only the boxes', async () => {
    const { h, sent } = host(memberView(true));
    const tools = new CheckoutTools(h, memoryStorage());
    expect(await tools.answer({ rating: 2, words: '  ', followUp: true })).toEqual({ ok: true, data: undefined });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.name).toBe('checkout:answer');
    const { checkoutId, sealed } = sent[0]!.payload as { checkoutId: string; sealed: SealedFor[] };
    expect(checkoutId).toBe('co-1');
    expect(sealed.map((b) => b.to)).toEqual(['ada', 'fay']);
    expect(JSON.parse(sealed[0]!.data.slice('for:ada:'.length))).toEqual({ checkoutId: 'co-1', rating: 2, words: null, followUp: true });
  });

  it('sends nothing when no check-out is open, the words are too long, or no facilitator device is paired', async () => {
    const closed = host(memberView(false));
    expect((await new CheckoutTools(closed.h, memoryStorage()).answer({ rating: 3, words: '', followUp: false })).ok).toBe(false);
    const open = host(memberView(true));
    const tools = new CheckoutTools(open.h, memoryStorage());
    expect((await tools.answer({ rating: 3, words: 'x'.repeat(CHECKOUT_WORDS_MAX + 1), followUp: false })).ok).toBe(false);
    const unpaired = host(memberView(true), 'ada', []);
    expect(await new CheckoutTools(unpaired.h, memoryStorage()).answer({ rating: 3, words: 'ok', followUp: false })).toMatchObject({ ok: false });
    expect([...closed.sent, ...open.sent, ...unpaired.sent]).toEqual([]);
  });
});

describe('a facilitator receiving answers', () => {
  const box = (to: string, body: unknown) => `for:${to}:${JSON.stringify(body)}`;

  it('keeps an answer that opens and belongs to the open check-out, and keeps it over a reload', async () => {
    const storage = memoryStorage();
    const { h } = host(facilitatorView({ id: 'co-1', startedAt: 5 }));
    const tools = new CheckoutTools(h, storage);
    tools.view(h.view()!);
    const valid = { checkoutId: 'co-1', rating: 1, words: 'Rough', followUp: false };
    // Not for this device, not an answer, another check-out's, or claimed under another id.
    expect(await tools.received({ checkoutId: 'co-1', from: 'bea', sealed: box('fay', valid), at: 7 })).toBe(false);
    expect(await tools.received({ checkoutId: 'co-1', from: 'bea', sealed: 'for:ada:{', at: 7 })).toBe(false);
    expect(await tools.received({ checkoutId: 'co-1', from: 'bea', sealed: box('ada', { ...valid, rating: 0 }), at: 7 })).toBe(false);
    expect(await tools.received({ checkoutId: 'co-1', from: 'bea', sealed: box('ada', { ...valid, checkoutId: 'co-0' }), at: 7 })).toBe(false);
    expect(await tools.received({ checkoutId: 'co-0', from: 'bea', sealed: box('ada', valid), at: 7 })).toBe(false);
    expect(tools.record.getSnapshot()?.answers).toEqual([]);

    expect(await tools.received({ checkoutId: 'co-1', from: 'bea', sealed: box('ada', valid), at: 7 })).toBe(true);
    expect(tools.record.getSnapshot()?.answers).toEqual([{ from: 'bea', displayName: 'Bea', rating: 1, words: 'Rough', followUp: false, at: 7 }]);
    // A reload: the same tab's storage gives the answers back before any view.
    const reloaded = new CheckoutTools(h, storage);
    expect(reloaded.record.getSnapshot()).toEqual(tools.record.getSnapshot());
    reloaded.view(h.view()!);
    expect(reloaded.record.getSnapshot()?.answers).toHaveLength(1);
  });

  it('forgets the answers when it stops facilitating or the session ends', async () => {
    const storage = memoryStorage();
    const { h, current } = host(facilitatorView({ id: 'co-1', startedAt: 5 }));
    const tools = new CheckoutTools(h, storage);
    tools.view(h.view()!);
    expect(storage.items.size).toBe(1);
    current.view = memberView(true);
    tools.view(current.view);
    expect(tools.record.getSnapshot()).toBeNull();
    expect(storage.items.size).toBe(0);
    tools.view(facilitatorView({ id: 'co-1', startedAt: 5 }));
    tools.forget();
    expect([tools.record.getSnapshot(), storage.items.size]).toEqual([null, 0]);
  });
});

describe('the answers when the session ends', () => {
  const box = (body: unknown) => `for:ada:${JSON.stringify(body)}`;
  async function withAnswer() {
    const storage = memoryStorage();
    const { h } = host(facilitatorView({ id: 'co-1', startedAt: 5 }));
    const tools = new CheckoutTools(h, storage);
    tools.view(h.view()!);
    await tools.received({ checkoutId: 'co-1', from: 'bea', sealed: box({ checkoutId: 'co-1', rating: 4, words: null, followUp: false }), at: 7 });
    return { tools, storage };
  }

  it('says whether there are answers not saved yet', async () => {
    const { tools } = await withAnswer();
    expect(tools.unsaved.getSnapshot()).toBe(true);
    expect((await tools.save()).ok).toBe(true);
    expect(tools.unsaved.getSnapshot()).toBe(false);
  });

  it('ended for a facilitator: gone from storage at once, kept in memory for one save, then forgotten', async () => {
    const { tools, storage } = await withAnswer();
    tools.sessionOver(true);
    expect(storage.items.size).toBe(0);
    expect(tools.record.getSnapshot()?.answers).toHaveLength(1);
    expect((await tools.save()).ok).toBe(true);
    expect([tools.record.getSnapshot(), storage.items.size, tools.unsaved.getSnapshot()]).toEqual([null, 0, false]);
    expect((await tools.save()).ok).toBe(false);
  });

  it('ended with nothing to offer (not a facilitator, an error): forgotten at once; leaving the end screen forgets an offer', async () => {
    const plain = await withAnswer();
    plain.tools.sessionOver(false);
    expect([plain.tools.record.getSnapshot(), plain.storage.items.size]).toEqual([null, 0]);
    const offered = await withAnswer();
    offered.tools.sessionOver(true);
    offered.tools.forget();
    expect([offered.tools.record.getSnapshot(), offered.storage.items.size]).toEqual([null, 0]);
  });
});
