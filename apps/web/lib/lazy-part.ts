import { createElement, lazy, type ComponentType } from 'react';
import { loadRetrying } from './load-retrying';

/*
 * A part of the page loaded apart from its first screen (a chunk of its own), as React.lazy
 * with three differences:
 * - once loaded (preloaded, usually), it renders at once: the lazy's loader hands React a
 *   thenable that has already resolved, so nothing suspends and no fallback flashes (React
 *   holds a fallback it showed for at least 300 ms, and focus would fall to the body);
 * - a failed load is tried again a few times before the part gives up (load-retrying.ts);
 * - a part that gave up is made anew by retryFailedParts(), so "Try again" loads it again
 *   (React.lazy keeps a rejected load forever). The bundler's chunk loader forgets a failed
 *   chunk, so a new import() fetches it again.
 */

export interface LazyPart<P extends object> {
  /** Render it inside <Suspense> and a boundary that offers to try again (PartBoundary). */
  readonly Component: ComponentType<P>;
  /** Start loading it (a failure is met again, and shown, where it renders). */
  preload(): void;
}

/** What retryFailedParts makes anew: parts whose load gave up. */
const failedParts = new Set<() => void>();

/** Make every part that could not load anew, so it loads again when it next renders. */
export function retryFailedParts(): void {
  for (const renew of [...failedParts]) renew();
}

/**
 * A thenable that calls back at once: React.lazy, which only calls `then` and ignores what it
 * returns, finds the value there before it would suspend (a Promise calls back a tick later).
 */
const resolved = <T>(value: T): Promise<T> =>
  ({
    then: (onResolved: (value: T) => unknown) => {
      onResolved(value);
    },
  }) as unknown as Promise<T>;

/** The part `pick` takes from the module `load` imports. `retryWaitMs`: for tests. */
export function lazyPart<M, P extends object>(load: () => Promise<M>, pick: (module: M) => ComponentType<P>, retryWaitMs?: number): LazyPart<P> {
  let loaded: ComponentType<P> | undefined;
  let loading: Promise<ComponentType<P>> | undefined;
  const fetchOnce = (): Promise<ComponentType<P>> =>
    (loading ??= loadRetrying(load, undefined, retryWaitMs).then(
      (module) => (loaded = pick(module)),
      (error: unknown) => {
        loading = undefined; // the next one tries again
        throw error;
      },
    ));
  const renew = () => {
    failedParts.delete(renew);
    current = make();
  };
  const make = () =>
    lazy(() => {
      if (loaded) return resolved({ default: loaded });
      return fetchOnce().then(
        (component) => ({ default: component }),
        (error: unknown) => {
          failedParts.add(renew);
          throw error;
        },
      );
    });
  let current = make();
  function Part(props: P) {
    return createElement(current, props);
  }
  return { Component: Part, preload: () => void fetchOnce().catch(() => undefined) };
}
