import { createElement, Suspense, type ComponentType } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it, vi } from 'vitest';
import { lazyPart, retryFailedParts } from './lazy-part';
import { CodeUnavailable, loadRetrying } from './load-retrying';

/*
 * The parts loaded apart, rendered to a string (no browser): renderToString shows a Suspense
 * fallback for whatever suspends, so a part that renders its own text did not suspend.
 */

const Hello = ({ name }: { name: string }) => createElement('p', null, `Hello ${name}`);
const module = { Hello };
const render = (Part: ComponentType<{ name: string }>) =>
  renderToString(createElement(Suspense, { fallback: createElement('p', null, 'Opening…') }, createElement(Part, { name: 'Ada' })));

/** A load that fails its first `failures` calls, counting them. */
function flaky(failures: number) {
  const load = vi.fn(() => (load.mock.calls.length <= failures ? Promise.reject(new Error('ChunkLoadError')) : Promise.resolve(module)));
  return load;
}

describe('loadRetrying', () => {
  it('tries a failed load again, and gives up after its tries (CodeUnavailable)', async () => {
    await expect(loadRetrying(flaky(1), 3, 0)).resolves.toBe(module);
    const failing = flaky(5);
    await expect(loadRetrying(failing, 3, 0)).rejects.toBeInstanceOf(CodeUnavailable);
    expect(failing).toHaveBeenCalledTimes(3);
  });
});

describe('lazyPart', () => {
  it('renders a preloaded part without suspending (no fallback)', async () => {
    const load = flaky(0);
    const part = lazyPart(load, (m) => m.Hello, 0);
    part.preload();
    await vi.waitFor(() => expect(load).toHaveBeenCalled());
    await Promise.resolve();
    await Promise.resolve();
    expect(render(part.Component)).toContain('Hello Ada');
  });

  it('shows the fallback while a part that was not preloaded loads', () => {
    const part = lazyPart(() => new Promise<typeof module>(() => undefined), (m) => m.Hello, 0);
    expect(render(part.Component)).toContain('Opening…');
  });

  it('loads a part that gave up again once retried, and renders it', async () => {
    let down = true;
    const load = vi.fn(() => (down ? Promise.reject(new Error('ChunkLoadError')) : Promise.resolve(module)));
    const part = lazyPart(load, (m) => m.Hello, 0);
    // Rendering starts the load; it gives up after its tries (React.lazy would keep that failure).
    render(part.Component);
    await vi.waitFor(() => expect(load).toHaveBeenCalledTimes(3));
    await new Promise((resolve) => setTimeout(resolve, 0));
    down = false;
    retryFailedParts();
    render(part.Component);
    await vi.waitFor(() => expect(load).toHaveBeenCalledTimes(4));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(render(part.Component)).toContain('Hello Ada');
  });
});
